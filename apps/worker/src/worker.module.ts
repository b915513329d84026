import { DynamicModule, Logger, Module } from '@nestjs/common';
import { join } from 'node:path';
import type { ModuleCatalog } from '@ioplane/catalog';
import { loadOrCreateSecret, loadOrCreateSigningKeys } from '@ioplane/devices';
import type { FirmwareProfile } from '@ioplane/domain';
import { MaasClient } from '@ioplane/maas';
import { RolloutOrchestrator } from '@ioplane/rollout';
import { CoreModule, CoreOptions, FLEET_REPOSITORY, MODULE_CATALOG, PLACEMENT_REPOSITORY, PROFILES, ROLLOUT_REPOSITORY } from '@ioplane/runtime';
import type { FleetRepository, PlacementRepository, RolloutRepository } from '@ioplane/state';
import { rolloutEnv, RolloutKeys } from './rollout.env';
import { RolloutProcessor } from './rollout.processor';
import { FleetProcessor } from './fleet.processor';
import { PlacementProcessor } from './placement.processor';
import { FleetScheduler } from './fleet.scheduler';
import { MAAS_CLIENT, ROLLOUT_ORCHESTRATOR } from './worker.tokens';

export interface WorkerOptions extends CoreOptions {
  maas: { url: string; apiKey: string; retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number } };
  /** Tests turn schedules off to drive jobs themselves. */
  schedules?: boolean;
  /** Signing key and agent token secret; read from (or created in) IOPLANE_KEYS_DIR when absent. */
  keys?: RolloutKeys;
  /** How long probe traffic runs during a health check. */
  probeMs?: number;
}

function keysFrom(opts: WorkerOptions): RolloutKeys {
  if (opts.keys) return opts.keys;
  const dir = opts.config.IOPLANE_KEYS_DIR ?? join(opts.config.IOPLANE_DATA_DIR, 'keys');
  return { privateKeyPem: loadOrCreateSigningKeys(dir).privateKeyPem, agentTokenSecret: loadOrCreateSecret(dir, 'agent-token.secret') };
}

@Module({})
export class WorkerModule {
  static forRoot(opts: WorkerOptions): DynamicModule {
    return {
      module: WorkerModule,
      imports: [CoreModule.forRoot({ ...opts, queueRole: 'worker' })],
      providers: [
        { provide: MAAS_CLIENT, useFactory: () => new MaasClient({ url: opts.maas.url, apiKey: opts.maas.apiKey, retry: opts.maas.retry }) },
        {
          provide: ROLLOUT_ORCHESTRATOR,
          useFactory: (rollouts: RolloutRepository, placements: PlacementRepository, fleet: FleetRepository, catalog: ModuleCatalog, profiles: FirmwareProfile[], maas: MaasClient) => {
            const log = new Logger('Rollout');
            return new RolloutOrchestrator(
              rolloutEnv({ rollouts, placements, fleet, catalog, profiles, maas, keys: keysFrom(opts), probeMs: opts.probeMs, log: (msg, fields) => log.log(fields, msg) }),
            );
          },
          inject: [ROLLOUT_REPOSITORY, PLACEMENT_REPOSITORY, FLEET_REPOSITORY, MODULE_CATALOG, PROFILES, MAAS_CLIENT],
        },
        FleetProcessor,
        PlacementProcessor,
        RolloutProcessor,
        ...(opts.schedules === false ? [] : [FleetScheduler]),
      ],
    };
  }
}
