import type { Queue } from 'bullmq';
import { JobsController } from './jobs.controller';

/**
 * A job that finishes while the controller reads it: the first read sees it running (no attempt
 * counted yet), every later read sees it completed with its attempt counted, as BullMQ's
 * moveToFinished script leaves it.
 */
function finishingQueue(): Queue {
  let reads = 0;
  const finished = () => reads++ > 0;
  const job = (done: boolean) => ({
    id: 'deploy.m1.p1',
    name: 'fleet.deploy',
    progress: done ? 100 : 50,
    attemptsMade: done ? 1 : 0,
    returnvalue: done ? { deployed: true } : undefined,
    failedReason: undefined,
    timestamp: 0,
    finishedOn: done ? 1 : undefined,
  });
  return {
    getJob: async () => {
      const done = finished();
      return { ...job(done), getState: async () => (finished() ? 'completed' : 'active') };
    },
    getJobState: async () => (finished() ? 'completed' : 'active'),
  } as unknown as Queue;
}

describe(JobsController.name, () => {
  it('never shows a job completed beside the counts of its unfinished run', async () => {
    const view = await new JobsController(finishingQueue()).get('deploy.m1.p1');
    if (view.state === 'completed') expect(view).toMatchObject({ attemptsMade: 1, result: { deployed: true } });
    else expect(view).toMatchObject({ state: 'active' });
  });
});
