import { Inject } from '@nestjs/common';
import { WorkerHost } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { dispatchJob, withJobLog } from '@ioplane/queue';

/**
 * A BullMQ processor whose jobs are its methods marked @OnJob: the worker runs the one marked
 * for the job's name; JobHandlersCheck refuses to boot unless every job has exactly one. Each
 * job runs in its own log context (withJobLog), so its lines carry its job, placement and machine.
 */
export abstract class JobProcessor extends WorkerHost {
  // A property, not a constructor parameter: every processor gets it without passing it on.
  @Inject(PinoLogger) private readonly pino?: PinoLogger;

  process(job: Job, token?: string): Promise<unknown> {
    const run = () => dispatchJob(this, job, token);
    return this.pino ? withJobLog(this.pino.logger, job, run) : run();
  }
}
