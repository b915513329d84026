import { Controller, Get, Inject } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import Redis from 'ioredis';
import { STATE_REDIS } from '@ioplane/runtime';

@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    @Inject(STATE_REDIS) private readonly redis: Redis,
  ) {}

  /** Liveness: the process answers. */
  @Get('healthz')
  healthz() {
    return { status: 'ok' };
  }

  /** Readiness: Redis, the system of record, answers a PING. */
  @Get('readyz')
  @HealthCheck()
  readyz() {
    return this.health.check([
      async () => {
        const check = this.indicator.check('redis');
        try {
          await this.redis.ping();
          return check.up();
        } catch (e) {
          return check.down({ message: (e as Error).message });
        }
      },
    ]);
  }
}
