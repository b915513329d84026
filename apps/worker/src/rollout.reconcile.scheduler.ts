import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { QUEUES, schedules, upsertSchedule } from '@ioplane/queue';

/** How often the reconciler runs (IOPLANE_RECONCILE_MS, default 30 s); tests shorten it. */
export function reconcileIntervalMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.IOPLANE_RECONCILE_MS;
  if (raw === undefined || raw === '') return 30_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 500)
    throw new Error(`invalid environment variable IOPLANE_RECONCILE_MS: must be an integer of at least 500 ms, got '${raw}'`);
  return n;
}

/** The rollout reconciler's schedule: upserted, so any number of workers yields one. */
@Injectable()
export class RolloutReconcileScheduler implements OnApplicationBootstrap {
  private readonly log = new Logger(RolloutReconcileScheduler.name);
  constructor(@InjectQueue(QUEUES.rollout) private readonly queue: Queue) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.waitUntilReady();
    const every = reconcileIntervalMs();
    await upsertSchedule(this.queue, schedules.rolloutReconcile(every));
    this.log.log({ everyMs: every }, 'rollout reconciler scheduled');
  }
}
