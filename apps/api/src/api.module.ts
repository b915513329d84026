import { AgentPackageController } from './agent-package.controller';
import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, Reflector } from '@nestjs/core';
import { ResponseContractInterceptor } from './dto/returns.decorator';
import { ThrottlerModule } from '@nestjs/throttler';
import Redis from 'ioredis';
import { AuditRepository, TokenRepository } from '@ioplane/state';
import { TerminusModule } from '@nestjs/terminus';
import { CoreModule, CoreOptions, STATE_REDIS } from '@ioplane/composition';
import { AuditInterceptor } from './auth/audit.interceptor';
import { AuthGuard } from './auth/auth.guard';
import { AUDIT_REPOSITORY, REFUSAL_THROTTLE, TOKEN_REPOSITORY } from './auth/auth.tokens';
import { RefusalThrottle } from './auth/refusal.throttle';
import { MutationThrottler } from './auth/mutation.throttler';
import { TokensController } from './auth/tokens.controller';
import { PlacementsController } from './placements.controller';
import { MetricsController } from './metrics.controller';
import { ModulesController } from './modules.controller';
import { ProfilesController } from './profiles.controller';
import { ApiErrorFilter } from './api-error.filter';
import { FleetController } from './fleet.controller';
import { HealthController } from './health.controller';
import { JobsController } from './jobs.controller';
import { RebalanceApiModule } from './rebalance.controller';
import { RequestShapeInterceptor } from './request-shape.interceptor';
import { ClientErrorHandler } from './client-error.handler';
import { FleetMapController } from './ui/fleet-map.controller';

@Module({})
export class ApiModule {
  static forRoot(opts: CoreOptions): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        CoreModule.forRoot(opts),
        TerminusModule,
        RebalanceApiModule,
        ThrottlerModule.forRoot([{ name: 'mutations', ttl: 60_000, limit: opts.config.API_RATE_LIMIT }]),
      ],
      controllers: [
        FleetController,
        JobsController,
        ModulesController,
        ProfilesController,
        PlacementsController,
        TokensController,
        MetricsController,
        HealthController,
        FleetMapController,
        AgentPackageController,
      ],
      providers: [
        { provide: APP_FILTER, useClass: ApiErrorFilter },
        { provide: TOKEN_REPOSITORY, useFactory: (r: Redis) => new TokenRepository(r, opts.config.IOPLANE_PREFIX), inject: [STATE_REDIS] },
        { provide: AUDIT_REPOSITORY, useFactory: (r: Redis) => new AuditRepository(r, opts.config.IOPLANE_PREFIX), inject: [STATE_REDIS] },
        { provide: REFUSAL_THROTTLE, useValue: new RefusalThrottle(opts.config.API_REFUSED_LIMIT) },
        // Order matters: who you are first, then how often you may change things.
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_GUARD, useClass: MutationThrottler },
        { provide: APP_INTERCEPTOR, useClass: AuditInterceptor },
        { provide: APP_INTERCEPTOR, useClass: RequestShapeInterceptor },
        {
          provide: APP_INTERCEPTOR,
          useFactory: (reflector: Reflector) => new ResponseContractInterceptor(reflector, opts.config.IOPLANE_CHECK_RESPONSES === 'on'),
          inject: [Reflector],
        },
        ClientErrorHandler,
      ],
    };
  }
}
