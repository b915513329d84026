import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import Redis from 'ioredis';
import { join } from 'node:path';
import { ModuleCatalog } from '@ioplane/catalog';
import type { FirmwareProfile } from '@ioplane/domain';
import { loadProfiles } from '@ioplane/profiles';
import { CoreModule, CoreOptions, STATE_REDIS } from '@ioplane/runtime';
import { RedisModuleRepository } from '@ioplane/state';
import { MODULE_CATALOG, PROFILES } from './api.tokens';
import { ModulesController } from './modules.controller';
import { ProfilesController } from './profiles.controller';
import { ApiErrorFilter } from './api-error.filter';
import { FleetController } from './fleet.controller';
import { HealthController } from './health.controller';
import { JobsController } from './jobs.controller';

@Module({})
export class ApiModule {
  static forRoot(opts: CoreOptions): DynamicModule {
    return {
      module: ApiModule,
      imports: [CoreModule.forRoot(opts), TerminusModule],
      controllers: [FleetController, JobsController, ModulesController, ProfilesController, HealthController],
      providers: [
        { provide: APP_FILTER, useClass: ApiErrorFilter },
        { provide: PROFILES, useFactory: () => loadProfiles() },
        {
          provide: MODULE_CATALOG,
          useFactory: (redis: Redis, profiles: FirmwareProfile[]) =>
            new ModuleCatalog(new RedisModuleRepository(redis, opts.config.IOPLANE_PREFIX), profiles, {
              cacheDir: join(opts.config.IOPLANE_DATA_DIR, 'artifacts'),
            }),
          inject: [STATE_REDIS, PROFILES],
        },
      ],
    };
  }
}
