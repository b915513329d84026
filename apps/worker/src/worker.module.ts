import { DynamicModule, Module } from '@nestjs/common';
import { MaasClient } from '@ioplane/maas';
import { loadProfiles } from '@ioplane/profiles';
import { CoreModule, CoreOptions } from '@ioplane/runtime';
import { FleetProcessor } from './fleet.processor';
import { FleetScheduler } from './fleet.scheduler';
import { MAAS_CLIENT, PROFILES } from './worker.tokens';

export interface WorkerOptions extends CoreOptions {
  maas: { url: string; apiKey: string; retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number } };
  /** Tests turn schedules off to drive jobs themselves. */
  schedules?: boolean;
}

@Module({})
export class WorkerModule {
  static forRoot(opts: WorkerOptions): DynamicModule {
    return {
      module: WorkerModule,
      imports: [CoreModule.forRoot({ ...opts, queueRole: 'worker' })],
      providers: [
        { provide: MAAS_CLIENT, useFactory: () => new MaasClient({ url: opts.maas.url, apiKey: opts.maas.apiKey, retry: opts.maas.retry }) },
        // Loaded once at boot: a bad profile stops the worker with the file and field named.
        { provide: PROFILES, useFactory: () => loadProfiles() },
        FleetProcessor,
        ...(opts.schedules === false ? [] : [FleetScheduler]),
      ],
    };
  }
}
