import { Inject, Logger } from '@nestjs/common';
import { OnWorkerEvent, Processor } from '@nestjs/bullmq';
import type { Job } from 'bullmq';
import type { ModuleCatalog } from '@ioplane/catalog';
import type { FirmwareProfile, FleetMachine } from '@ioplane/domain';
import { metrics } from '@ioplane/metrics';
import { HighsSolver, loadHighs } from '@ioplane/placement';
import { DryRunOutcome, DryRunPlacement, DryRunPlacementCommand } from '@ioplane/planning';
import type { AgentFactsResult } from '@ioplane/planning';
import { errorLogger, JOBS, OnJob, QUEUES, closeEvenWhenDown } from '@ioplane/queue';
import { AGENT_FACTS, FLEET_REPOSITORY, MODULE_CATALOG, PROFILES, ROLLOUT_REPOSITORY } from '@ioplane/composition';
import type { FleetRepository, RolloutRepository } from '@ioplane/state';
import { JobProcessor } from './job.processor';

/** Dry runs the API awaits: planned here so the API process never runs a solver. */
@Processor(QUEUES.dryRun, { concurrency: 2, lockDuration: 300_000 })
export class DryRunProcessor extends JobProcessor {
  private readonly log = new Logger(DryRunProcessor.name);
  private highs: Promise<HighsSolver> | null = null;
  private readonly dryRun: DryRunPlacement;

  constructor(
    @Inject(FLEET_REPOSITORY) fleet: FleetRepository,
    @Inject(MODULE_CATALOG) catalog: ModuleCatalog,
    @Inject(PROFILES) profiles: FirmwareProfile[],
    @Inject(AGENT_FACTS) agentFacts: (m: FleetMachine) => Promise<AgentFactsResult | null>,
    @Inject(ROLLOUT_REPOSITORY) rollouts: RolloutRepository,
  ) {
    super();
    this.dryRun = new DryRunPlacement({ fleet, catalog, profiles, agentFacts, rollouts, highs: () => (this.highs ??= loadHighs()) });
  }

  @OnJob(JOBS.dryRun)
  async plan(job: Job): Promise<DryRunOutcome> {
    return this.dryRun.execute(job.data as DryRunPlacementCommand);
  }

  private readonly redisError = errorLogger('worker dry-run', (f, m) => this.log.warn(f, m));

  /** A Redis error of this worker's connections, logged through pino (see errorLogger). */
  @OnWorkerEvent('error')
  onError(err: Error): void {
    this.redisError(err);
  }

  /** Set up once @nestjs/bullmq made the worker: a shutdown during a Redis outage must still end. */
  onApplicationBootstrap(): void {
    closeEvenWhenDown(this.worker, 'worker dry-run', (f, m) => this.log.warn(f, m));
  }

  @OnWorkerEvent('completed')
  onCompleted(job: Job): void {
    metrics.observeJob(QUEUES.dryRun, job, 'completed');
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job | undefined, err: Error): void {
    if (job) metrics.observeJob(QUEUES.dryRun, job, 'failed');
    this.log.warn({ jobId: job?.id, err: err.message }, 'dry run failed');
  }
}
