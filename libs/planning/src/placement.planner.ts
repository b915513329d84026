import type { FirmwareProfile, FleetMachine } from '@ioplane/domain';
import type { ModuleManifest } from '@ioplane/modules';
import type { ModuleCatalog, ModuleReport } from '@ioplane/catalog';
import {
  CurrentPlacement,
  HighsSolver,
  MachinePlan,
  machinePlans,
  matchesSelector,
  planFleet,
  PlacementMachine,
  PlacementModule,
  PlanViolation,
  validatePlan,
} from '@ioplane/placement';
import type { FleetRepository } from '@ioplane/state';
import { PlacementRequest } from './placement-request.schema';
import { SkippedMachine, StoredPlan } from './placement.plan';
import { hostCostOf, toPlacementMachine, toPlacementModule } from './problem.builder';
import type { AgentFactsResult } from './agent.facts';
import { artifactRefOf } from './module.artifact';

/** A request naming something that does not exist or cannot be used: reported with the field. */
export class PlacementInputError extends Error {
  constructor(
    readonly code: 'not_found' | 'unprocessable',
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** A solver produced a plan the validator refuses: it is never stored or rolled out. */
export class PlanValidationError extends Error {
  readonly code = 'invalid_plan' as const;
  constructor(readonly violations: Array<PlanViolation & { systemId: string }>) {
    super(
      `the plan breaks ${violations.length} rule(s), first: ${violations[0]?.systemId}: ${violations[0]?.constraint}: ${violations[0]?.message}`,
    );
  }
}

const DEPLOYED = 6;

export interface PlannerDeps {
  fleet: FleetRepository;
  catalog: ModuleCatalog;
  profiles: FirmwareProfile[];
  highs?: HighsSolver;
  /** What each machine runs now (observed state), for migration cost. */
  current?: (systemId: string) => Promise<Record<string, CurrentPlacement>>;
  /** What each host's agent says its devices allow; a host whose agent does not answer is skipped. */
  agentFacts?: (m: FleetMachine) => Promise<AgentFactsResult | null>;
  /**
   * Stores a planned module's object under the sha256 of its bytes, before the plan naming it is
   * kept: the rollout fetches it by that digest. Absent (dry runs): nothing is stored.
   */
  keepArtifact?: (digest: string, bytes: Buffer) => Promise<void>;
}

export interface ResolvedModules {
  modules: PlacementModule[];
  reports: ModuleReport[];
  manifests: ModuleManifest[];
}

/** Every named module must exist (404) at the version asked for (422); each is built and checked once. */
export async function resolveModules(req: PlacementRequest, catalog: ModuleCatalog): Promise<ResolvedModules> {
  const modules: PlacementModule[] = [];
  const reports: ModuleReport[] = [];
  const manifests: ModuleManifest[] = [];
  for (const [i, m] of req.modules.entries()) {
    let found;
    try {
      found = await catalog.get(m.name);
    } catch {
      throw new PlacementInputError('not_found', `modules.${i}.name`, `no module named ${m.name}`);
    }
    if (m.version && m.version !== found.manifest.version) {
      throw new PlacementInputError(
        'unprocessable',
        `modules.${i}.version`,
        `module ${m.name} is at version ${found.manifest.version}, not ${m.version}`,
      );
    }
    const report = await catalog.analysis(m.name);
    reports.push(report);
    manifests.push(found.manifest);
    modules.push(toPlacementModule(report, found.manifest, m, i));
  }
  return { modules, reports, manifests };
}

/** The selector's machines: hosts only (a DPU is a device of its host), Deployed ones placeable. */
export async function selectMachines(
  req: PlacementRequest,
  fleet: FleetRepository,
): Promise<{ eligible: FleetMachine[]; skipped: SkippedMachine[] }> {
  const all = (await fleet.listMachines()).filter((m) => !m.isDpu);
  const matched = all.filter((m) =>
    matchesSelector({ zone: m.zone, pool: m.pool, hostname: m.hostname, tags: m.tags } as never, req.selector),
  );
  if (matched.length === 0) {
    throw new PlacementInputError(
      'unprocessable',
      'selector',
      `the selector matches no machine in the inventory (${all.length} hosts known; run a fleet sync if it is empty)`,
    );
  }
  const eligible = matched.filter((m) => m.status === DEPLOYED);
  const skipped = matched
    .filter((m) => m.status !== DEPLOYED)
    .map((m) => ({ systemId: m.systemId, hostname: m.hostname, reason: `MAAS status is ${m.statusName}, not Deployed` }));
  return { eligible, skipped };
}

/** Plans a placement request over the current inventory: never a silent partial plan. */
export async function planPlacement(placementId: string, req: PlacementRequest, deps: PlannerDeps): Promise<StoredPlan> {
  const { modules, reports, manifests } = await resolveModules(req, deps.catalog);
  const { eligible, skipped } = await selectMachines(req, deps.fleet);
  const facts = await Promise.all(eligible.map((m) => deps.agentFacts?.(m) ?? Promise.resolve(null)));
  const reachable = eligible.filter((m, i) => {
    const f = facts[i];
    if (f && !f.ok) skipped.push({ systemId: m.systemId, hostname: m.hostname, reason: f.reason });
    return !f || f.ok;
  });
  const built = await Promise.all(
    reachable.map(async (m) => {
      const f = facts[eligible.indexOf(m)];
      return toPlacementMachine(
        m,
        deps.profiles,
        req.policy.hostCoreBudget,
        (await deps.current?.(m.systemId)) ?? {},
        f?.ok ? f.facts : null,
        req.ingress,
      );
    }),
  );
  // A machine where no interface matches the ingress selector has nowhere to run the chain.
  const machines = built.filter((m) => {
    if (m.ports.length > 0) return true;
    skipped.push({
      systemId: m.systemId,
      hostname: m.hostname,
      reason: `no interface matches the ingress selector ${JSON.stringify(req.ingress ?? { uplinks: true })}`,
    });
    return false;
  });
  const plan = planFleet(machines, modules, { highs: deps.highs });
  const perMachine = machinePlans(plan);
  // Every plan, whichever solver or cache produced it, is checked against the raw machine before it is kept.
  assertValidPlans(machines, modules, perMachine, plan.scoped);
  // The rollout ships exactly the builds planned with, by digest: it never asks the catalog again.
  const artifacts = await Promise.all(reports.map((r, i) => artifactRefOf(r, manifests[i], req.modules[i])));
  if (deps.keepArtifact) for (const a of artifacts) await deps.keepArtifact(a.ref.digest, a.bytes);
  return {
    placementId,
    createdAt: new Date().toISOString(),
    complete: plan.complete,
    modules: modules.map((m, i) => ({
      name: m.name,
      version: m.version,
      chainPosition: m.chainPosition,
      digest: reports[i].artifact.digest,
      nsPerPacket: m.hostNsPerPacket,
      costEstimated: m.costEstimated,
      passRatio: m.passRatio ?? 1,
      cost: hostCostOf(reports[i]),
      artifact: artifacts[i].ref,
    })),
    machines: perMachine,
    skipped,
    scoped: plan.scoped,
    stats: plan.stats,
  };
}

/** Throws PlanValidationError naming every rule a machine plan breaks against its raw machine; nothing is stored then. */
export function assertValidPlans(
  machines: readonly PlacementMachine[],
  modules: PlacementModule[],
  plans: readonly MachinePlan[],
  scoped: { module: string; perReplicaPps: number; replicas: { systemId: string }[] }[],
): void {
  const violations = plans.flatMap((mp, i) =>
    validatePlan(machines[i], modulesOn(modules, mp, scoped), mp).map((v) => ({ ...v, systemId: mp.systemId })),
  );
  if (violations.length) throw new PlanValidationError(violations);
}

/** The modules a machine's plan must carry: the chain, plus the fleet-scoped ones it was chosen for (at their per-replica rate). */
function modulesOn(
  modules: PlacementModule[],
  mp: { systemId: string },
  scoped: { module: string; perReplicaPps: number; replicas: { systemId: string }[] }[],
): PlacementModule[] {
  return modules.flatMap((m) => {
    if (!m.scope) return [m];
    const s = scoped.find((x) => x.module === m.name);
    return s?.replicas.some((r) => r.systemId === mp.systemId) ? [{ ...m, traffic: { ...m.traffic, pps: s.perReplicaPps } }] : [];
  });
}

/** What a machine runs now, from the observed state, as the solver's current placement (migration cost). */
export async function currentPlacement(
  observed: {
    observed(systemId: string): Promise<{ modules: Array<{ name: string; deviceId: string; target: string; interface?: string }> } | null>;
  },
  systemId: string,
): Promise<Record<string, CurrentPlacement>> {
  const o = await observed.observed(systemId);
  // A module on two ports is recorded twice; the first entry stands for its migration cost.
  const out: Record<string, CurrentPlacement> = {};
  for (const m of o?.modules ?? [])
    out[m.name] ??= {
      deviceId: m.deviceId,
      target: m.target as CurrentPlacement['target'],
      ...(m.interface ? { interface: m.interface } : {}),
    };
  return out;
}
