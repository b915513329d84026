import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { QUEUES } from '@ioplane/queue';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import Redis from 'ioredis';
import { STATE_REDIS } from '@ioplane/runtime';
import { RequireRole } from './auth/role.decorator';

/** Set on SIGTERM: readiness fails first, so a load balancer stops sending before workers drain. */
export const readiness = { draining: false };

@ApiTags('health')
@Controller()
export class HealthController {
  private readonly queues: Queue[];
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicator: HealthIndicatorService,
    @Inject(STATE_REDIS) private readonly redis: Redis,
    @InjectQueue(QUEUES.fleet) fleet: Queue,
    @InjectQueue(QUEUES.placement) placement: Queue,
    @InjectQueue(QUEUES.rollout) rollout: Queue,
  ) {
    this.queues = [fleet, placement, rollout];
  }

  /** Liveness: the process answers. */
  @Get('healthz')
  @RequireRole('public')
  healthz() {
    return { status: 'ok' };
  }

  /** Readiness: Redis, the system of record, answers a PING. */
  @Get('readyz')
  @RequireRole('public')
  @HealthCheck()
  readyz() {
    if (readiness.draining) throw new ServiceUnavailableException({ code: 'draining', message: 'shutting down: not taking new work' });
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
      async () => {
        // Workers of any process count: they all share this Redis.
        const check = this.indicator.check('workers');
        try {
          const counts = await Promise.all(this.queues.map(async (q) => [q.name, await q.getWorkersCount()] as const));
          const missing = counts.filter(([, n]) => n === 0).map(([q]) => q);
          return missing.length ? check.down({ message: `no worker on queue(s) ${missing.join(', ')}` }) : check.up({ workers: Object.fromEntries(counts) });
        } catch (e) {
          return check.down({ message: (e as Error).message });
        }
      },
    ]);
  }
}
