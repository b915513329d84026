import { Inject, Logger } from '@nestjs/common';
import { InjectQueue, OnWorkerEvent, Processor } from '@nestjs/bullmq';
import { Job, Queue } from 'bullmq';
import { z } from 'zod';
import type { ModuleCatalog } from '@ioplane/catalog';
import type { FirmwareProfile, FleetMachine } from '@ioplane/domain';
import { AgentFactsResult, SubmitPlacement } from '@ioplane/planning';
import { addJob, jobs, JOBS, OnJob, QUEUES, errorLogger, closeEvenWhenDown } from '@ioplane/queue';
import {
  AGENT_FACTS,
  CONTROLLER_KEYS,
  FLEET_REPOSITORY,
  MODULE_CATALOG,
  PLACEMENT_REPOSITORY,
  PROFILES,
  ROLLOUT_REPOSITORY,
} from '@ioplane/composition';
import { FleetRepository, PlacementRepository, RebalanceRepository, RolloutRepository, TelemetryRepository } from '@ioplane/state';
import { decideRound, DecideResult } from './rebalance.decider';
import { JobProcessor } from './job.processor';
import { REBALANCE_SETTINGS } from './rebalance.tokens';
import type { RebalanceSettings } from './rebalance.env';
import { sampleFleet, SampleResult } from './telemetry.sampler';

export const samplePayload = z.object({
  /** Queue the decision round for this window once the samples are stored. */
  decide: z.boolean().default(true),
});
export const decidePayload = z.object({ window: z.int().min(0).optional() });

/** Telemetry sampling and rebalancing decisions: one job at a time, so windows never interleave. */
@Processor(QUEUES.rebalance, { concurrency: 1, lockDuration: 120_000 })
export class RebalanceProcessor extends JobProcessor {
  private readonly log = new Logger('Rebalance');

  constructor(
    @Inject(FLEET_REPOSITORY) private readonly fleet: FleetRepository,
    @Inject(ROLLOUT_REPOSITORY) private readonly rollouts: RolloutRepository,
    @Inject(PLACEMENT_REPOSITORY) private readonly placements: PlacementRepository,
    @Inject(MODULE_CATALOG) private readonly catalog: ModuleCatalog,
    @Inject(PROFILES) private readonly profiles: FirmwareProfile[],
    @Inject(AGENT_FACTS) private readonly agentFacts: (m: FleetMachine) => Promise<AgentFactsResult | null>,
    @Inject(CONTROLLER_KEYS) private readonly keys: { agentTokenSecret: string },
    @Inject(TelemetryRepository) private readonly telemetry: TelemetryRepository,
    @Inject(RebalanceRepository) private readonly rebalance: RebalanceRepository,
    @Inject(REBALANCE_SETTINGS) private readonly settings: RebalanceSettings,
    @InjectQueue(QUEUES.rebalance) private readonly queue: Queue,
    @InjectQueue(QUEUES.placement) private readonly placementQueue: Queue,
  ) {
    super();
    this.submitPlacement = new SubmitPlacement({ placements, catalog, fleet, leases: rollouts, planQueue: placementQueue });
  }

  private readonly submitPlacement: SubmitPlacement;

  @OnJob(JOBS.telemetrySample)
  async sample(job: Job): Promise<SampleResult> {
    const { decide } = samplePayload.parse(job.data ?? {});
    const r = await sampleFleet({
      fleet: this.fleet,
      rollouts: this.rollouts,
      telemetry: this.telemetry,
      catalog: this.catalog,
      profiles: this.profiles,
      agentTokenSecret: this.keys.agentTokenSecret,
      limits: { windows: this.settings.keepWindows, ttlSeconds: this.settings.ttlSeconds },
    });
    if (r.errors.length) this.log.warn({ window: r.window, errors: r.errors.slice(0, 20) }, 'telemetry: some devices did not answer');
    if (decide) await addJob(this.queue, jobs.rebalanceDecide(r.window));
    return r;
  }

  @OnJob(JOBS.rebalanceDecide)
  async decide(job: Job): Promise<DecideResult> {
    const { window } = decidePayload.parse(job.data ?? {});
    return decideRound(
      {
        fleet: this.fleet,
        rollouts: this.rollouts,
        placements: this.placements,
        catalog: this.catalog,
        profiles: this.profiles,
        telemetry: this.telemetry,
        rebalance: this.rebalance,
        agentFacts: this.agentFacts,
        submit: async (req, key) => (await this.submitPlacement.execute({ request: req, idempotencyKey: key })).record.id,
        log: (msg, fields) => this.log.log(fields, msg),
      },
      window,
    );
  }

  private readonly redisError = errorLogger('worker rebalance', (f, m) => this.log.warn(f, m));

  /** A Redis error of this worker's connections, logged through pino (see errorLogger). */
  @OnWorkerEvent('error')
  onError(err: Error): void {
    this.redisError(err);
  }

  /** Set up once @nestjs/bullmq made the worker: a shutdown during a Redis outage must still end. */
  onApplicationBootstrap(): void {
    closeEvenWhenDown(this.worker, 'worker rebalance', (f, m) => this.log.warn(f, m));
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job | undefined, err: Error): void {
    this.log.warn({ jobId: job?.id, job: job?.name, err: err.message }, 'rebalance job failed');
  }
}
