import type { FirmwareProfile, FleetMachine } from '@ioplane/domain';
import type { ModuleCatalog, ModuleReport } from '@ioplane/catalog';
import { CurrentPlacement, HighsSolver, machinePlans, matchesSelector, planFleet, PlacementModule } from '@ioplane/placement';
import type { FleetRepository } from '@ioplane/state';
import { PlacementRequest } from './placement-request.schema';
import { SkippedMachine, StoredPlan } from './placement.plan';
import { toPlacementMachine, toPlacementModule } from './problem.builder';
import type { AgentFactsResult } from './agent.facts';

/** A request naming something that does not exist or cannot be used: reported with the field. */
export class PlacementInputError extends Error {
  constructor(readonly code: 'not_found' | 'unprocessable', readonly field: string, message: string) {
    super(message);
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
}

export interface ResolvedModules {
  modules: PlacementModule[];
  reports: ModuleReport[];
}

/** Every named module must exist (404) at the version asked for (422); each is built and checked once. */
export async function resolveModules(req: PlacementRequest, catalog: ModuleCatalog): Promise<ResolvedModules> {
  const modules: PlacementModule[] = [];
  const reports: ModuleReport[] = [];
  for (const [i, m] of req.modules.entries()) {
    let found;
    try {
      found = await catalog.get(m.name);
    } catch {
      throw new PlacementInputError('not_found', `modules.${i}.name`, `no module named ${m.name}`);
    }
    if (m.version && m.version !== found.manifest.version) {
      throw new PlacementInputError('unprocessable', `modules.${i}.version`, `module ${m.name} is at version ${found.manifest.version}, not ${m.version}`);
    }
    const report = await catalog.analysis(m.name);
    reports.push(report);
    modules.push(toPlacementModule(report, found.manifest, m, i));
  }
  return { modules, reports };
}

/** The selector's machines: hosts only (a DPU is a device of its host), Deployed ones placeable. */
export async function selectMachines(req: PlacementRequest, fleet: FleetRepository): Promise<{ eligible: FleetMachine[]; skipped: SkippedMachine[] }> {
  const all = (await fleet.listMachines()).filter((m) => !m.isDpu);
  const matched = all.filter((m) => matchesSelector({ zone: m.zone, pool: m.pool, hostname: m.hostname, tags: m.tags } as never, req.selector));
  if (matched.length === 0) {
    throw new PlacementInputError('unprocessable', 'selector', `the selector matches no machine in the inventory (${all.length} hosts known; run a fleet sync if it is empty)`);
  }
  const eligible = matched.filter((m) => m.status === DEPLOYED);
  const skipped = matched.filter((m) => m.status !== DEPLOYED).map((m) => ({ systemId: m.systemId, hostname: m.hostname, reason: `MAAS status is ${m.statusName}, not Deployed` }));
  return { eligible, skipped };
}

/** Plans a placement request over the current inventory: never a silent partial plan. */
export async function planPlacement(placementId: string, req: PlacementRequest, deps: PlannerDeps): Promise<StoredPlan> {
  const { modules, reports } = await resolveModules(req, deps.catalog);
  const { eligible, skipped } = await selectMachines(req, deps.fleet);
  const facts = await Promise.all(eligible.map((m) => deps.agentFacts?.(m) ?? Promise.resolve(null)));
  const reachable = eligible.filter((m, i) => {
    const f = facts[i];
    if (f && !f.ok) skipped.push({ systemId: m.systemId, hostname: m.hostname, reason: f.reason });
    return !f || f.ok;
  });
  const machines = await Promise.all(
    reachable.map(async (m) => {
      const f = facts[eligible.indexOf(m)];
      return toPlacementMachine(m, deps.profiles, req.policy.hostCoreBudget, (await deps.current?.(m.systemId)) ?? {}, f?.ok ? f.facts : null);
    }),
  );
  const plan = planFleet(machines, modules, { highs: deps.highs });
  const perMachine = machinePlans(plan);
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
    })),
    machines: perMachine,
    skipped,
    scoped: plan.scoped,
    stats: plan.stats,
  };
}

/** What a machine runs now, from the observed state, as the solver's current placement (migration cost). */
export async function currentPlacement(
  observed: { observed(systemId: string): Promise<{ modules: Array<{ name: string; deviceId: string; target: string }> } | null> },
  systemId: string,
): Promise<Record<string, CurrentPlacement>> {
  const o = await observed.observed(systemId);
  return Object.fromEntries((o?.modules ?? []).map((m) => [m.name, { deviceId: m.deviceId, target: m.target as CurrentPlacement['target'] }]));
}
