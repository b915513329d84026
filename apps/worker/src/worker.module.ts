import { DynamicModule, Logger, Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import type { FirmwareProfile } from '@ioplane/domain';
import { MaasClient } from '@ioplane/maas';
import { metrics } from '@ioplane/metrics';
import { RolloutOrchestrator } from '@ioplane/rollout';
import {
  CONTROLLER_KEYS,
  CoreModule,
  CoreOptions,
  FLEET_REPOSITORY,
  PLACEMENT_REPOSITORY,
  PROFILES,
  ROLLOUT_REPOSITORY,
} from '@ioplane/composition';
import type { FleetRepository, PlacementRepository, RolloutRepository } from '@ioplane/state';
import { rolloutEnv, RolloutKeys } from './rollout.env';
import { RolloutProcessor } from './rollout.processor';
import { FleetProcessor } from './fleet.processor';
import { PlacementProcessor } from './placement.processor';
import { DryRunProcessor } from './dry-run.processor';
import { FleetScheduler } from './fleet.scheduler';
import { RolloutReconcileScheduler } from './rollout.reconcile.scheduler';
import { MAAS_CLIENT, ROLLOUT_ORCHESTRATOR } from './worker.tokens';
import { RebalanceWorkerModule } from './rebalance.module';
import { JobHandlersCheck } from './job-handlers.check';

export interface WorkerOptions extends CoreOptions {
  maas: { url: string; apiKey: string; retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number } };
  /** Tests turn schedules off to drive jobs themselves. */
  schedules?: boolean;
  /** How long probe traffic runs during a health check. */
  probeMs?: number;
}

@Module({})
export class WorkerModule {
  static forRoot(opts: WorkerOptions): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        CoreModule.forRoot({ ...opts, queueRole: 'worker' }),
        RebalanceWorkerModule.forRoot({ schedules: opts.schedules }),
        DiscoveryModule,
      ],
      providers: [
        {
          provide: MAAS_CLIENT,
          useFactory: () =>
            new MaasClient({ url: opts.maas.url, apiKey: opts.maas.apiKey, retry: opts.maas.retry, onCall: metrics.onMaasCall }),
        },
        {
          provide: ROLLOUT_ORCHESTRATOR,
          // No module catalog: the plan carries every artifact the rollout ships, by digest.
          useFactory: (
            rollouts: RolloutRepository,
            placements: PlacementRepository,
            fleet: FleetRepository,
            profiles: FirmwareProfile[],
            maas: MaasClient,
            keys: RolloutKeys,
          ) => {
            const log = new Logger('Rollout');
            return new RolloutOrchestrator(
              rolloutEnv({
                rollouts,
                placements,
                fleet,
                profiles,
                maas,
                keys,
                probeMs: opts.probeMs,
                log: (msg, fields) => log.log(fields, msg),
              }),
            );
          },
          inject: [ROLLOUT_REPOSITORY, PLACEMENT_REPOSITORY, FLEET_REPOSITORY, PROFILES, MAAS_CLIENT, CONTROLLER_KEYS],
        },
        JobHandlersCheck,
        FleetProcessor,
        PlacementProcessor,
        DryRunProcessor,
        RolloutProcessor,
        ...(opts.schedules === false ? [] : [FleetScheduler, RolloutReconcileScheduler]),
      ],
    };
  }
}
