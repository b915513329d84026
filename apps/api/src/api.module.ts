import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { CoreModule, CoreOptions } from '@ioplane/runtime';
import { PlacementsController } from './placements.controller';
import { MetricsController } from './metrics.controller';
import { ModulesController } from './modules.controller';
import { ProfilesController } from './profiles.controller';
import { ApiErrorFilter } from './api-error.filter';
import { FleetController } from './fleet.controller';
import { HealthController } from './health.controller';
import { JobsController } from './jobs.controller';
import { FleetMapController } from './ui/fleet-map.controller';

@Module({})
export class ApiModule {
  static forRoot(opts: CoreOptions): DynamicModule {
    return {
      module: ApiModule,
      imports: [CoreModule.forRoot(opts), TerminusModule],
      controllers: [FleetController, JobsController, ModulesController, ProfilesController, PlacementsController, MetricsController, HealthController, FleetMapController],
      providers: [
        { provide: APP_FILTER, useClass: ApiErrorFilter },
      ],
    };
  }
}
