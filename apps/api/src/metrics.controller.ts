import { Controller, Get, Header, Inject } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Queue } from 'bullmq';
import { metrics } from '@ioplane/metrics';
import { QUEUES } from '@ioplane/queue';
import { ROLLOUT_REPOSITORY } from '@ioplane/composition';
import type { RolloutRepository } from '@ioplane/state';
import { RequireRole } from './auth/role.decorator';
import { ReturnsRaw } from './dto/returns.decorator';

const STATES = ['waiting', 'active', 'delayed', 'completed', 'failed', 'paused', 'prioritized', 'waiting-children'] as const;

@ApiTags('health')
@Controller()
export class MetricsController {
  private readonly queues: Queue[];
  constructor(
    @InjectQueue(QUEUES.fleet) fleet: Queue,
    @InjectQueue(QUEUES.placement) placement: Queue,
    @InjectQueue(QUEUES.rollout) rollout: Queue,
    @Inject(ROLLOUT_REPOSITORY) private readonly rollouts: RolloutRepository,
  ) {
    this.queues = [fleet, placement, rollout];
  }

  /** Prometheus text. Gauges that mirror Redis are read at scrape time, so they are never stale. */
  @Get('metrics')
  @RequireRole('public')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics' })
  @ReturnsRaw('text/plain', 'Prometheus text exposition format 0.0.4')
  async metrics(): Promise<string> {
    for (const q of this.queues) {
      const counts = await q.getJobCounts(...STATES);
      for (const s of STATES) metrics.queueJobs.set({ queue: q.name, state: s }, counts[s] ?? 0);
    }
    const byTarget = new Map<string, number>();
    for (const o of await this.rollouts.allObserved()) for (const m of o.modules) byTarget.set(m.target, (byTarget.get(m.target) ?? 0) + 1);
    metrics.placementsByTarget.reset();
    for (const [target, n] of byTarget) metrics.placementsByTarget.set({ target }, n);
    return metrics.registry.metrics();
  }
}
