import { addJob, JOB_IDS, jobs, WrongQueueError } from './job.registry';
import { JOBS, QUEUES } from './queue.names';

describe('job registry', () => {
  it('builds the ids the reconciler looks jobs up by, the same for every producer', () => {
    expect(jobs.plan('pl-1').opts.jobId).toBe('pl-1');
    expect(jobs.rolloutStart('pl-1').opts.jobId).toBe('pl-1.start');
    expect(jobs.rolloutWave('pl-1', 2).opts.jobId).toBe(JOB_IDS.rolloutWave('pl-1', 2));
    expect(JOB_IDS.rolloutWave('pl-1', 2)).toBe('pl-1.w2');
    expect(jobs.rolloutMachine('pl-1', 2, 'abc').opts.jobId).toBe('pl-1.m.abc');
    expect(jobs.rebalanceDecide(7).opts.jobId).toBe('decide.w7');
  });

  it('names each job with its queue, payload and options, ready for Queue.add or a flow', () => {
    expect(jobs.plan('pl-1')).toEqual({
      name: JOBS.plan,
      queueName: QUEUES.placement,
      data: { placementId: 'pl-1' },
      opts: { jobId: 'pl-1', removeOnComplete: 1000, removeOnFail: 1000 },
    });
    expect(jobs.rolloutMachine('pl-1', 0, 'abc')).toMatchObject({
      queueName: QUEUES.rollout,
      data: { placementId: 'pl-1', wave: 0, systemId: 'abc' },
      opts: { attempts: 3, ignoreDependencyOnFailure: true },
    });
    expect(jobs.fleetDeploy({ systemId: 'abc' }, 2, 'r1')).toMatchObject({
      queueName: QUEUES.fleet,
      opts: { jobId: 'deploy.abc.r1', attempts: 3 },
    });
  });

  it('adds a job to its own queue and refuses another queue, where nothing would ever run it', async () => {
    const added: unknown[] = [];
    const queue = (name: string) => ({ name, add: async (...a: unknown[]) => (added.push(a), { id: 'x' }) });
    await addJob(queue(QUEUES.placement), jobs.plan('pl-1'));
    expect(added).toEqual([[JOBS.plan, { placementId: 'pl-1' }, jobs.plan('pl-1').opts]]);
    await expect(addJob(queue(QUEUES.rollout), jobs.plan('pl-2'))).rejects.toBeInstanceOf(WrongQueueError);
    expect(added).toHaveLength(1);
  });
});
