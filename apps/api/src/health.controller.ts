import { Controller, Get, Inject, ServiceUnavailableException } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { Queue } from 'bullmq';
import { QUEUES } from '@ioplane/queue';
import { ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import Redis from 'ioredis';
import { STATE_REDIS } from '@ioplane/composition';
import { RequireRole } from './auth/role.decorator';
import { z } from 'zod';
import { Returns } from './dto/returns.decorator';

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
    // The API awaits dry runs from a worker: without one every dry run ends in dry_run_timeout.
    @InjectQueue(QUEUES.dryRun) dryRun: Queue,
  ) {
    this.queues = [fleet, placement, rollout, dryRun];
  }

  /** Liveness: the process answers. */
  @Get('healthz')
  @RequireRole('public')
  @Returns(z.object({ status: z.literal('ok') }), { description: 'the process is alive' })
  healthz() {
    return { status: 'ok' };
  }

  /**
   * Readiness: Redis, the system of record, answers and takes writes (a primary, not a read-only
   * replica), and every queue has a worker. A failure names each check that failed and why.
   */
  @Get('readyz')
  @RequireRole('public')
  @HealthCheck()
  @Returns(
    z.looseObject({
      status: z.string(),
      info: z.record(z.string(), z.unknown()).optional(),
      details: z.record(z.string(), z.unknown()).optional(),
    }),
    { description: 'ready: Redis is a writable primary, every queue has a worker (503 names the failed checks)' },
  )
  async readyz() {
    if (readiness.draining)
      throw new ServiceUnavailableException({
        code: 'draining',
        message: 'shutting down: not taking new work',
        checks: { draining: { status: 'down', message: 'shutting down' } },
      });
    try {
      return await this.health.check([
        async () => {
          const check = this.indicator.check('redis');
          try {
            const info = await this.redis.info('replication');
            // After a failover the old address may serve a replica: every write there fails with READONLY.
            if (/^role:slave\b/m.test(info))
              return check.down({ message: 'connected to a read-only replica (role:slave): writes would fail' });
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
            return missing.length
              ? check.down({ message: `no worker on queue(s) ${missing.join(', ')}` })
              : check.up({ workers: Object.fromEntries(counts) });
          } catch (e) {
            return check.down({ message: (e as Error).message });
          }
        },
      ]);
    } catch (e) {
      if (!(e instanceof ServiceUnavailableException)) throw e;
      const result = e.getResponse() as { error?: Record<string, { message?: string }>; details?: Record<string, unknown> };
      const failed = Object.entries(result.error ?? {});
      throw new ServiceUnavailableException({
        code: 'not_ready',
        message: `not ready: ${failed.map(([name, v]) => `${name} (${v.message ?? 'down'})`).join('; ')}`,
        checks: result.details ?? {},
      });
    }
  }
}
