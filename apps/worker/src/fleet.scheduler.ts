import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { IoplaneConfig } from '@ioplane/runtime';
import { IOPLANE_CONFIG } from '@ioplane/composition';
import { QUEUES, schedules, upsertSchedule } from '@ioplane/queue';

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
    await upsertSchedule(this.queue, schedules.fleetSync(this.config.FLEET_SYNC_INTERVAL_MS));
    await upsertSchedule(this.queue, schedules.maasEvents(this.config.MAAS_EVENTS_INTERVAL_MS));
    this.log.log(
      { fleetSyncMs: this.config.FLEET_SYNC_INTERVAL_MS, maasEventsMs: this.config.MAAS_EVENTS_INTERVAL_MS },
      'schedules upserted',
    );
  }
}
