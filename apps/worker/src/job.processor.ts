import { WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { dispatchJob } from '@ioplane/queue';

/**
 * A BullMQ processor whose jobs are its methods marked @OnJob: the worker runs the one marked
 * for the job's name; JobHandlersCheck refuses to boot unless every job has exactly one.
 */
export abstract class JobProcessor extends WorkerHost {
  process(job: Job, token?: string): Promise<unknown> {
    return dispatchJob(this, job, token);
  }
}
