import {
  assertJobHandlers,
  checkJobHandlers,
  dispatchJob,
  JobHandlersError,
  jobHandlersOf,
  NoJobHandlerError,
  OnJob,
} from './job.handlers';
import { JobName, JOBS, QUEUES } from './queue.names';

class Rollouts {
  @OnJob(JOBS.rolloutStart) start(job: { name: string }) {
    return Promise.resolve(`start ${job.name}`);
  }
  @OnJob(JOBS.rolloutWave) wave() {
    return Promise.resolve('wave');
  }
  @OnJob(JOBS.rolloutMachine) machine(_job: unknown, token?: string) {
    return Promise.resolve(`machine ${token}`);
  }
  @OnJob(JOBS.rolloutReconcile) reconcile() {
    return Promise.resolve('reconcile');
  }
}

class SecondStart {
  @OnJob(JOBS.rolloutStart) start() {
    return Promise.resolve('other');
  }
}

class Incomplete {
  @OnJob(JOBS.rolloutStart) start() {
    return Promise.resolve('start');
  }
}

describe('job handlers', () => {
  it('records each marked method with its job', () => {
    expect(jobHandlersOf(Rollouts).map((r) => [r.job, r.method])).toEqual([
      [JOBS.rolloutStart, 'start'],
      [JOBS.rolloutWave, 'wave'],
      [JOBS.rolloutMachine, 'machine'],
      [JOBS.rolloutReconcile, 'reconcile'],
    ]);
  });

  it('passes when every job of the queue has exactly one handler', () => {
    expect(checkJobHandlers([Rollouts], [QUEUES.rollout])).toEqual([]);
    expect(() => assertJobHandlers([Rollouts], [QUEUES.rollout])).not.toThrow();
  });

  it('names every job without a handler', () => {
    const problems = checkJobHandlers([Incomplete], [QUEUES.rollout]);
    expect(problems.map((p) => [p.code, p.job])).toEqual([
      ['job_without_handler', JOBS.rolloutWave],
      ['job_without_handler', JOBS.rolloutMachine],
      ['job_without_handler', JOBS.rolloutReconcile],
    ]);
    expect(() => assertJobHandlers([Incomplete], [QUEUES.rollout])).toThrow(JobHandlersError);
  });

  it('names a job with two handlers, and both of them', () => {
    const problems = checkJobHandlers([Rollouts, SecondStart], [QUEUES.rollout]);
    expect(problems).toEqual([
      { code: 'job_with_two_handlers', job: JOBS.rolloutStart, message: expect.stringContaining('Rollouts.start, SecondStart.start') },
    ]);
  });

  it('refuses a handler for a job the registry does not know', () => {
    class Stray {
      @OnJob('no-such-job' as JobName) stray() {
        return Promise.resolve();
      }
    }
    expect(checkJobHandlers([Rollouts, Stray], [QUEUES.rollout]).map((p) => p.code)).toEqual(['handler_for_unknown_job']);
  });

  it('checks every queue unless told otherwise', () => {
    expect(checkJobHandlers([Rollouts]).map((p) => p.job)).toEqual(
      expect.arrayContaining([JOBS.plan, JOBS.fleetSync, JOBS.rebalanceDecide]),
    );
  });

  it('runs the marked method for a job, with the extra arguments, and refuses an unknown job', async () => {
    const host = new Rollouts();
    await expect(dispatchJob(host, { name: JOBS.rolloutStart })).resolves.toBe('start rollout-start');
    await expect(dispatchJob(host, { name: JOBS.rolloutMachine }, 'tok')).resolves.toBe('machine tok');
    expect(() => dispatchJob(host, { name: JOBS.plan })).toThrow(NoJobHandlerError);
  });

  it('keeps a subclass handler off its base class', () => {
    class More extends Incomplete {
      @OnJob(JOBS.rolloutWave) wave() {
        return Promise.resolve('wave');
      }
    }
    expect(jobHandlersOf(More).map((r) => r.job)).toEqual([JOBS.rolloutStart, JOBS.rolloutWave]);
    expect(jobHandlersOf(Incomplete).map((r) => r.job)).toEqual([JOBS.rolloutStart]);
  });
});
