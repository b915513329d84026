import { DynamicModule, Module } from '@nestjs/common';
import { MaasClient } from '@ioplane/maas';
import { CoreModule, CoreOptions } from '@ioplane/runtime';
import { FleetProcessor } from './fleet.processor';
import { PlacementProcessor } from './placement.processor';
import { FleetScheduler } from './fleet.scheduler';
import { MAAS_CLIENT } from './worker.tokens';

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
        FleetProcessor,
        PlacementProcessor,
        ...(opts.schedules === false ? [] : [FleetScheduler]),
      ],
    };
  }
}
