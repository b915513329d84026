import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { IoplaneConfig } from '@ioplane/runtime';
import { IOPLANE_CONFIG } from '@ioplane/composition';
import { FLEET_SYNC_RETRY, JOBS, QUEUES } from '@ioplane/queue';

/** Repeatable jobs are upserted, so any number of workers booting yields one schedule each. */
@Injectable()
export class FleetScheduler implements OnApplicationBootstrap {
  private readonly log = new Logger(FleetScheduler.name);
  constructor(
    @Inject(IOPLANE_CONFIG) private readonly config: IoplaneConfig,
    @InjectQueue(QUEUES.fleet) private readonly queue: Queue,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.queue.waitUntilReady();
    const keep = { removeOnComplete: 50, removeOnFail: 200 };
    await this.queue.upsertJobScheduler(
      'fleet-sync-schedule',
      { every: this.config.FLEET_SYNC_INTERVAL_MS },
      { name: JOBS.fleetSync, data: { reason: 'schedule' }, opts: { ...keep, ...FLEET_SYNC_RETRY } },
    );
    await this.queue.upsertJobScheduler(
      'maas-events-schedule',
      { every: this.config.MAAS_EVENTS_INTERVAL_MS },
      { name: JOBS.maasEvents, data: {}, opts: keep },
    );
    this.log.log({ fleetSyncMs: this.config.FLEET_SYNC_INTERVAL_MS, maasEventsMs: this.config.MAAS_EVENTS_INTERVAL_MS }, 'schedules upserted');
  }
}
