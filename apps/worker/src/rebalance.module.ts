import { DynamicModule, Module } from '@nestjs/common';
import Redis from 'ioredis';
import { IoplaneConfig } from '@ioplane/runtime';
import { IOPLANE_CONFIG, STATE_REDIS } from '@ioplane/composition';
import { RebalanceRepository, TelemetryRepository } from '@ioplane/state';
import { rebalanceSettings } from './rebalance.env';
import { RebalanceProcessor } from './rebalance.processor';
import { RebalanceScheduler } from './rebalance.scheduler';
import { REBALANCE_SETTINGS } from './rebalance.tokens';

/** Telemetry and rebalancing in the worker; `schedules: false` leaves the jobs to whoever adds them (tests). */
@Module({})
export class RebalanceWorkerModule {
  static forRoot(opts: { schedules?: boolean }): DynamicModule {
    return {
      module: RebalanceWorkerModule,
      providers: [
        { provide: REBALANCE_SETTINGS, useFactory: () => rebalanceSettings() },
        {
          provide: TelemetryRepository,
          useFactory: (r: Redis, c: IoplaneConfig) => new TelemetryRepository(r, c.IOPLANE_PREFIX),
          inject: [STATE_REDIS, IOPLANE_CONFIG],
        },
        {
          provide: RebalanceRepository,
          useFactory: (r: Redis, c: IoplaneConfig) => new RebalanceRepository(r, c.IOPLANE_PREFIX),
          inject: [STATE_REDIS, IOPLANE_CONFIG],
        },
        RebalanceProcessor,
        ...(opts.schedules === false ? [] : [RebalanceScheduler]),
      ],
    };
  }
}
