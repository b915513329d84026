import { Inject, Logger } from '@nestjs/common';
import { InjectQueue, OnWorkerEvent, Processor } from '@nestjs/bullmq';
import { metrics } from '@ioplane/metrics';
import { Job, Queue, UnrecoverableError } from 'bullmq';
import type { ModuleCatalog } from '@ioplane/catalog';
import type { FirmwareProfile, FleetMachine } from '@ioplane/domain';
import { loadHighs, HighsSolver } from '@ioplane/placement';
import { PlanPlacement, PlanPlacementCommand, PlanPlacementResult, PlanValidationError } from '@ioplane/planning';
import type { AgentFactsResult } from '@ioplane/planning';
import { JOBS, OnJob, QUEUES, errorLogger, closeEvenWhenDown } from '@ioplane/queue';
import { AGENT_FACTS, FLEET_REPOSITORY, MODULE_CATALOG, PLACEMENT_REPOSITORY, PROFILES, ROLLOUT_REPOSITORY } from '@ioplane/composition';
import type { FleetRepository, PlacementRepository, RolloutRepository } from '@ioplane/state';
import { JobProcessor } from './job.processor';

@Processor(QUEUES.placement, { concurrency: 2, lockDuration: 300_000 })
export class PlacementProcessor extends JobProcessor {
  private readonly log = new Logger(PlacementProcessor.name);
  private highs: Promise<HighsSolver> | null = null;
  private readonly planPlacement: PlanPlacement;

  constructor(
    @Inject(FLEET_REPOSITORY) fleet: FleetRepository,
    @Inject(PLACEMENT_REPOSITORY) private readonly placements: PlacementRepository,
    @Inject(MODULE_CATALOG) catalog: ModuleCatalog,
    @Inject(PROFILES) profiles: FirmwareProfile[],
    @Inject(AGENT_FACTS) agentFacts: (m: FleetMachine) => Promise<AgentFactsResult | null>,
    @InjectQueue(QUEUES.rollout) rolloutQueue: Queue,
    @Inject(ROLLOUT_REPOSITORY) rollouts: RolloutRepository,
    @InjectQueue(QUEUES.fleet) fleetQueue: Queue,
  ) {
    super();
    this.planPlacement = new PlanPlacement({
      placements,
      rollouts,
      fleet,
      catalog,
      profiles,
      agentFacts,
      rolloutQueue,
      fleetQueue,
      highs: () => (this.highs ??= loadHighs()),
      log: (fields, msg) => this.log.log(fields, msg),
    });
  }

  @OnJob(JOBS.plan)
  async plan(job: Job): Promise<PlanPlacementResult> {
    return this.planPlacement
      .execute(job.data as PlanPlacementCommand, (p) => job.updateProgress(p))
      .catch((e: unknown) => {
        // A plan the validator refuses is never stored; solving again would give the same plan.
        if (e instanceof PlanValidationError) throw new UnrecoverableError(`${e.code}: ${e.message}`);
        throw e;
      });
  }

  private readonly redisError = errorLogger('worker placement', (f, m) => this.log.warn(f, m));

  /** A Redis error of this worker's connections, logged through pino (see errorLogger). */
  @OnWorkerEvent('error')
  onError(err: Error): void {
    this.redisError(err);
  }

  /** Set up once @nestjs/bullmq made the worker: a shutdown during a Redis outage must still end. */
  onApplicationBootstrap(): void {
    closeEvenWhenDown(this.worker, 'worker placement', (f, m) => this.log.warn(f, m));
  }

  @OnWorkerEvent('completed')
  onCompleted(job: Job): void {
    metrics.observeJob(QUEUES.placement, job, 'completed');
  }

  @OnWorkerEvent('failed')
  async onFailed(job: Job | undefined, err: Error): Promise<void> {
    const id = (job?.data as { placementId?: string } | undefined)?.placementId;
    if (job) metrics.observeJob(QUEUES.placement, job, 'failed');
    this.log.warn({ jobId: job?.id, placementId: id, err: err.message }, 'placement job failed');
    if (id && job && job.attemptsMade >= (job.opts.attempts ?? 1))
      await this.placements.setStatus(id, 'failed', err.message).catch(() => undefined);
  }
}
