import type { FirmwareProfile, FleetMachine } from '@ioplane/domain';
import type { ModuleCatalog } from '@ioplane/catalog';
import type { HighsSolver } from '@ioplane/placement';
import { addJob, JobQueue, jobs } from '@ioplane/queue';
import { MachineLeased, placementEnded } from '@ioplane/state';
import type { FleetRepository, PlacementRepository, RolloutRepository } from '@ioplane/state';
import type { AgentFactsResult } from '../agent.facts';
import { deployCandidates, deployRetries } from '../provisioning';
import { PlacementRequest, placementRequestSchema } from '../placement-request.schema';
import type { StoredPlan } from '../placement.plan';
import { currentPlacement, planPlacement } from '../placement.planner';
import { planPlacementCommand, PlanPlacementCommand } from './plan-placement.command';

export interface PlanPlacementDeps {
  placements: PlacementRepository;
  rollouts: Pick<RolloutRepository, 'claimMachines' | 'releaseLeases' | 'control' | 'observed' | 'putArtifact'>;
  fleet: FleetRepository;
  catalog: ModuleCatalog;
  profiles: FirmwareProfile[];
  agentFacts?: (m: FleetMachine) => Promise<AgentFactsResult | null>;
  /** HiGHS, loaded on first use and kept by the caller. */
  highs?: () => Promise<HighsSolver>;
  rolloutQueue: JobQueue;
  fleetQueue: JobQueue;
  log?: (fields: Record<string, unknown>, msg: string) => void;
}

export interface PlanPlacementResult {
  placementId: string;
  complete: boolean;
  machines: number;
}

/** Where a running plan job is, for BullMQ's progress. */
export type PlanProgress = (p: { stage: 'plan'; percent: number }) => Promise<unknown>;

/**
 * The plan job of a stored placement: solves it over the current inventory, stores the plan,
 * asks MAAS to deploy what `policy.deploy` names, and starts the rollout when the plan may run
 * (complete, or partial with allowPartial). The placement record is read once and its request
 * parsed once; cancellation during the solve is seen through the rollout control the API sets.
 * A PlanValidationError (a solver bug) leaves nothing stored.
 */
export class PlanPlacement {
  constructor(private readonly deps: PlanPlacementDeps) {}

  async execute(input: PlanPlacementCommand, progress: PlanProgress = async () => undefined): Promise<PlanPlacementResult> {
    const { placementId } = planPlacementCommand.parse(input);
    const d = this.deps;
    const rec = await d.placements.get(placementId);
    if (!rec) throw new Error(`no placement ${placementId}`);
    if (rec.status === 'cancelled') return { placementId, complete: false, machines: 0 };
    const request = placementRequestSchema.parse(rec.request);
    // At-least-once delivery: a plan that is already stored is not solved again.
    const existing = await d.placements.getPlan<StoredPlan>(placementId);
    if (existing) {
      if (existing.complete || request.policy.allowPartial) await this.startRollout(existing);
      return { placementId, complete: existing.complete, machines: existing.machines.length };
    }
    await d.placements.setStatus(placementId, 'planning');
    await progress({ stage: 'plan', percent: 10 });
    const plan = await planPlacement(placementId, request, {
      fleet: d.fleet,
      catalog: d.catalog,
      profiles: d.profiles,
      agentFacts: d.agentFacts,
      current: (id) => currentPlacement(d.rollouts, id),
      highs: await d.highs?.(),
      keepArtifact: (digest, bytes) => d.rollouts.putArtifact(digest, bytes, placementId),
    });
    await d.placements.putPlan(placementId, plan);
    await this.deployMachines(placementId, request);
    if (await this.cancelled(placementId)) return { placementId, complete: plan.complete, machines: plan.machines.length };
    const infeasible = plan.machines.filter((m) => !m.feasible).length;
    const go = plan.complete || (request.policy.allowPartial && plan.machines.length > infeasible && plan.scoped.every((s) => s.feasible));
    const note = plan.complete
      ? null
      : `${infeasible} machine(s) cannot take the placement${go ? ' and are left as they are (allowPartial)' : ''}: see the plan`;
    await d.placements.setStatus(placementId, go ? 'planned' : 'infeasible', note);
    await progress({ stage: 'plan', percent: 100 });
    // Machines the plan leaves as they are are not this placement's to hold.
    const untouched = [...plan.skipped.map((m) => m.systemId), ...plan.machines.filter((m) => !go || !m.feasible).map((m) => m.systemId)];
    if (untouched.length) await d.rollouts.releaseLeases(placementId, untouched);
    // An incomplete plan is rolled out only when the request allows it, and always says so.
    if (go && !(await this.cancelled(placementId))) await this.startRollout(plan);
    d.log?.({ placementId, complete: plan.complete, machines: plan.machines.length, stats: plan.stats }, 'placement planned');
    return { placementId, complete: plan.complete, machines: plan.machines.length };
  }

  /** The API cancels a placement that has not started rolling out by setting its control to cancel (and its status to cancelled). */
  private async cancelled(placementId: string): Promise<boolean> {
    return (await this.deps.rollouts.control(placementId)) === 'cancel';
  }

  /**
   * `policy.deploy`: MAAS deploys the selector's machines that are not Deployed yet, with the agent;
   * each then follows this placement through provisioning, like any machine reaching Deployed.
   */
  private async deployMachines(placementId: string, request: PlacementRequest): Promise<void> {
    const retries = deployRetries(request);
    if (retries === null || request.dryRun) return;
    const machines = deployCandidates(request, await this.deps.fleet.listMachines());
    for (const m of machines)
      await addJob(this.deps.fleetQueue, jobs.fleetDeploy({ systemId: m.systemId, placementId }, retries, placementId));
    if (machines.length)
      this.deps.log?.(
        { placementId, machines: machines.map((m) => m.hostname) },
        'placement: MAAS deploys the machines that are not Deployed yet',
      );
  }

  private async startRollout(plan: StoredPlan): Promise<void> {
    const { placementId } = plan;
    // The machines the rollout changes are leased to it before any of them is touched (the API
    // claimed them at submission; placements submitted by rebalancing or provisioning are
    // claimed here): another placement holding one refuses this one, nothing of it runs.
    const machines = plan.machines.filter((m) => m.feasible).map((m) => m.systemId);
    try {
      await this.deps.rollouts.claimMachines(placementId, machines, (owner) => placementEnded(this.deps.placements, owner));
    } catch (e) {
      if (!(e instanceof MachineLeased)) throw e;
      await this.deps.placements.setStatus(placementId, 'failed', `${e.code}: ${e.message}`);
      return;
    }
    await addJob(this.deps.rolloutQueue, jobs.rolloutStart(placementId));
  }
}
