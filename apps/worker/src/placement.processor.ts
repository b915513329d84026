import { Inject, Logger } from '@nestjs/common';
import { InjectQueue, OnWorkerEvent, Processor } from '@nestjs/bullmq';
import { metrics } from '@ioplane/metrics';
import { Job, Queue, UnrecoverableError } from 'bullmq';
import type { ModuleCatalog } from '@ioplane/catalog';
import type { FirmwareProfile, FleetMachine } from '@ioplane/domain';
import { loadHighs, HighsSolver } from '@ioplane/placement';
import { currentPlacement, deployCandidates, deployRetries, planPlacement, placementRequestSchema, PlanValidationError, StoredPlan } from '@ioplane/planning';
import type { AgentFactsResult } from '@ioplane/planning';
import { addJob, jobs, fleetDeployJobOptions, JOBS, OnJob, planPayload, QUEUES, errorLogger } from '@ioplane/queue';
import { AGENT_FACTS, FLEET_REPOSITORY, MODULE_CATALOG, PLACEMENT_REPOSITORY, PROFILES, ROLLOUT_REPOSITORY, closeEvenWhenDown } from '@ioplane/runtime';
import { MachineLeased, placementEnded } from '@ioplane/state';
import { JobProcessor } from './job.processor';
import type { FleetRepository, PlacementRepository, RolloutRepository } from '@ioplane/state';

@Processor(QUEUES.placement, { concurrency: 2, lockDuration: 300_000 })
export class PlacementProcessor extends JobProcessor {
  private readonly log = new Logger(PlacementProcessor.name);
  private highs: Promise<HighsSolver> | null = null;

  constructor(
    @Inject(FLEET_REPOSITORY) private readonly fleet: FleetRepository,
    @Inject(PLACEMENT_REPOSITORY) private readonly placements: PlacementRepository,
    @Inject(MODULE_CATALOG) private readonly catalog: ModuleCatalog,
    @Inject(PROFILES) private readonly profiles: FirmwareProfile[],
    @Inject(AGENT_FACTS) private readonly agentFacts: (m: FleetMachine) => Promise<AgentFactsResult | null>,
    @InjectQueue(QUEUES.rollout) private readonly rollout: Queue,
    @Inject(ROLLOUT_REPOSITORY) private readonly rollouts: RolloutRepository,
    @InjectQueue(QUEUES.fleet) private readonly fleetQueue: Queue,
  ) {
    super();
  }

  @OnJob(JOBS.plan)
  async plan(job: Job): Promise<{ placementId: string; complete: boolean; machines: number }> {
    const { placementId } = planPayload.parse(job.data);
    const rec = await this.placements.get(placementId);
    if (!rec) throw new Error(`no placement ${placementId}`);
    if (rec.status === 'cancelled') return { placementId, complete: false, machines: 0 };
    // At-least-once delivery: a plan that is already stored is not solved again.
    const existing = await this.placements.getPlan<StoredPlan>(placementId);
    if (existing) {
      if (existing.complete || placementRequestSchema.parse(rec.request).policy.allowPartial) await this.startRollout(placementId);
      return { placementId, complete: existing.complete, machines: existing.machines.length };
    }
    await this.placements.setStatus(placementId, 'planning');
    await job.updateProgress({ stage: 'plan', percent: 10 });
    this.highs ??= loadHighs();
    const request = placementRequestSchema.parse(rec.request);
    const plan = await planPlacement(placementId, request, { fleet: this.fleet, catalog: this.catalog, profiles: this.profiles, agentFacts: this.agentFacts, current: (id) => currentPlacement(this.rollouts, id), highs: await this.highs })
      .catch((e: unknown) => {
        // A plan the validator refuses is never stored; solving again would give the same plan.
        if (e instanceof PlanValidationError) throw new UnrecoverableError(`${e.code}: ${e.message}`);
        throw e;
      });
    await this.placements.putPlan(placementId, plan);
    await this.deployMachines(placementId, request);
    if ((await this.placements.get(placementId))?.status === 'cancelled') return { placementId, complete: plan.complete, machines: plan.machines.length };
    const infeasible = plan.machines.filter((m) => !m.feasible).length;
    const go = plan.complete || (request.policy.allowPartial && plan.machines.length > infeasible && plan.scoped.every((s) => s.feasible));
    const note = plan.complete ? null : `${infeasible} machine(s) cannot take the placement${go ? ' and are left as they are (allowPartial)' : ''}: see the plan`;
    await this.placements.setStatus(placementId, go ? 'planned' : 'infeasible', note);
    await job.updateProgress({ stage: 'plan', percent: 100 });
    // Machines the plan leaves as they are are not this placement's to hold.
    const untouched = [...plan.skipped.map((m) => m.systemId), ...plan.machines.filter((m) => !go || !m.feasible).map((m) => m.systemId)];
    if (untouched.length) await this.rollouts.releaseLeases(placementId, untouched);
    // An incomplete plan is rolled out only when the request allows it, and always says so.
    if (go) await this.startRollout(placementId);
    this.log.log({ placementId, complete: plan.complete, machines: plan.machines.length, stats: plan.stats }, 'placement planned');
    return { placementId, complete: plan.complete, machines: plan.machines.length };
  }

  /**
   * `policy.deploy`: MAAS deploys the selector's machines that are not Deployed yet, with the agent;
   * each then follows this placement through provisioning, like any machine reaching Deployed.
   */
  private async deployMachines(placementId: string, request: ReturnType<typeof placementRequestSchema.parse>): Promise<void> {
    const retries = deployRetries(request);
    if (retries === null || request.dryRun) return;
    const machines = deployCandidates(request, await this.fleet.listMachines());
    for (const m of machines) await this.fleetQueue.add(JOBS.fleetDeploy, { systemId: m.systemId, placementId }, fleetDeployJobOptions(m.systemId, retries, placementId));
    if (machines.length) this.log.log({ placementId, machines: machines.map((m) => m.hostname) }, 'placement: MAAS deploys the machines that are not Deployed yet');
  }

  private async startRollout(placementId: string): Promise<void> {
    if ((await this.placements.get(placementId))?.status === 'cancelled') return;
    // The machines the rollout changes are leased to it before any of them is touched (the API
    // claimed them at submission; placements submitted by rebalancing or provisioning are
    // claimed here): another placement holding one refuses this one, nothing of it runs.
    const plan = await this.placements.getPlan<StoredPlan>(placementId);
    const machines = (plan?.machines ?? []).filter((m) => m.feasible).map((m) => m.systemId);
    try {
      await this.rollouts.claimMachines(placementId, machines, (owner) => placementEnded(this.placements, owner));
    } catch (e) {
      if (!(e instanceof MachineLeased)) throw e;
      await this.placements.setStatus(placementId, 'failed', `${e.code}: ${e.message}`);
      return;
    }
    await addJob(this.rollout, jobs.rolloutStart(placementId));
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
    if (id && job && job.attemptsMade >= (job.opts.attempts ?? 1)) await this.placements.setStatus(id, 'failed', err.message).catch(() => undefined);
  }
}
