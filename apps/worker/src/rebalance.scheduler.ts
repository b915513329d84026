import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { QUEUES, schedules, upsertSchedule } from '@ioplane/queue';
import type { RebalanceSettings } from './rebalance.env';
import { REBALANCE_SETTINGS } from './rebalance.tokens';

/** One telemetry window per period; each sampling round queues its decision round. Upserted, so many workers make one schedule. */
@Injectable()
export class RebalanceScheduler implements OnApplicationBootstrap {
  private readonly log = new Logger(RebalanceScheduler.name);
  constructor(
    @Inject(REBALANCE_SETTINGS) private readonly settings: RebalanceSettings,
    @InjectQueue(QUEUES.rebalance) private readonly queue: Queue,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.waitUntilReady();
    await upsertSchedule(this.queue, schedules.telemetrySample(this.settings.windowMs));
    this.log.log({ windowMs: this.settings.windowMs, keepWindows: this.settings.keepWindows }, 'telemetry schedule upserted');
  }
}
