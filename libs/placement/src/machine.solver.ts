import { flavoursOf } from './cost.model';
import { branchAndBound } from './exact.solver';
import { heuristicSolve } from './heuristic.solver';
import { Assignment, bindDevices, buildProblem, MachineProblem, ResourceKind } from './machine.problem';
import { HighsSolver, milpSolve } from './milp.solver';
import { blockedModules, DecisionTemplate, explain } from './plan.explain';
import { InfeasibleModule, MachinePlan, ModulePlacement, PlacementMachine, PlacementModule, SolverKind } from './placement.model';

export type SolverMode = 'auto' | 'exact' | 'heuristic';

export interface SolveOptions {
  /** auto: heuristic, then branch and bound to prove or improve it within `nodeLimit`. */
  solver?: SolverMode;
  nodeLimit?: number;
}

/** A solved machine problem with devices as indices (shared across an equivalence class). */
export interface MachineSolution {
  feasible: boolean;
  assignment: Assignment | null;
  cost: number;
  lowerBound: number;
  optimal: boolean;
  solver: SolverKind;
  decisions: DecisionTemplate[];
  infeasible: InfeasibleModule[];
  /** Device index -> profile id it must be flashed to. */
  flavourSwitches: [number, string][];
}

const DEFAULT_NODE_LIMIT = 200_000;

function withPlan(p: MachineProblem, assignment: Assignment, cost: number, lowerBound: number, optimal: boolean, solver: SolverKind): MachineSolution {
  const switches = new Map<number, string>();
  assignment.forEach((k, i) => {
    const c = p.candidates[i][k];
    if (c.flavourIndex > 0) switches.set(c.deviceIndex, flavoursOf(p.devices[c.deviceIndex])[c.flavourIndex].profileId);
  });
  return { feasible: true, assignment, cost, lowerBound, optimal, solver, decisions: explain(p, assignment, cost), infeasible: [], flavourSwitches: [...switches] };
}

function relaxed(p: MachineProblem, change: 'chain' | ResourceKind): MachineProblem {
  if (change === 'chain') return { ...p, candidates: p.candidates.map((cs) => cs.map((c) => ({ ...c, stage: 0 }))) };
  return { ...p, resources: p.resources.map((r) => (r.kind === change ? { ...r, capacity: Infinity } : r)) };
}

/** No joint plan although every module has candidates: find which constraint blocks it. */
function diagnose(p: MachineProblem): InfeasibleModule[] {
  const tries: ('chain' | ResourceKind)[] = ['chain', 'hostCores', 'slots', 'throughput', 'arm', 'instructions', 'mapMemoryBytes', 'flowRules'];
  for (const t of tries) {
    if (branchAndBound(relaxed(p, t), { nodeLimit: 50_000 }).assignment) {
      const what = t === 'chain' ? 'chain_order' : t;
      const message = t === 'chain'
        ? 'every module fits somewhere, but not in NIC -> DPU -> host order: an early module can only run on the host while a later one can only run below it'
        : `the modules together exceed ${t === 'hostCores' ? `the host-core budget (${p.machine.hostCoreBudget} cores)` : `the device ${t} capacity`}`;
      return p.modules.map((m) => ({ module: m.name, constraint: what, message }));
    }
  }
  return p.modules.map((m) => ({ module: m.name, constraint: 'capacity', message: 'no combination of targets satisfies the shared capacities and chain order together' }));
}

function infeasible(p: MachineProblem, solver: SolverKind, lowerBound = Infinity): MachineSolution {
  const blocked = blockedModules(p);
  return {
    feasible: false, assignment: null, cost: Infinity, lowerBound, optimal: true, solver, decisions: [],
    infeasible: blocked.length ? blocked : diagnose(p), flavourSwitches: [],
  };
}

export function solveProblem(p: MachineProblem, opts: SolveOptions = {}): MachineSolution {
  const mode = opts.solver ?? 'auto';
  if (p.candidates.some((c) => c.length === 0)) return infeasible(p, mode === 'heuristic' ? 'heuristic' : 'exact');
  const h = heuristicSolve(p);
  if (mode === 'heuristic' || (h.assignment && h.optimal)) {
    if (!h.assignment) return infeasible(p, 'heuristic', h.lowerBound);
    return withPlan(p, h.assignment, h.cost, h.lowerBound, h.optimal, h.optimal ? 'exact' : 'heuristic');
  }
  const nodeLimit = mode === 'exact' ? Infinity : opts.nodeLimit ?? DEFAULT_NODE_LIMIT;
  const bb = branchAndBound(p, { nodeLimit, incumbent: h.assignment ? { assignment: h.assignment, cost: h.cost } : undefined });
  if (!bb.assignment) return infeasible(p, bb.optimal ? 'exact' : 'heuristic', bb.lowerBound);
  return withPlan(p, bb.assignment, bb.cost, Math.max(bb.lowerBound, h.lowerBound), bb.optimal, bb.optimal ? 'exact' : 'heuristic');
}

/** The same machine solved by HiGHS (for verification and small instances). */
export function solveProblemMilp(highs: HighsSolver, p: MachineProblem): MachineSolution {
  if (p.candidates.some((c) => c.length === 0)) return infeasible(p, 'milp');
  const r = milpSolve(highs, p);
  if (!r.assignment) return infeasible(p, 'milp');
  return withPlan(p, r.assignment, r.cost, r.cost, true, 'milp');
}

/** Turn a class solution into one machine's plan, with that machine's device ids. */
export function materialise(machine: PlacementMachine, deviceIds: readonly string[], s: MachineSolution): MachinePlan {
  const placements: Record<string, ModulePlacement> = {};
  for (const d of s.decisions) {
    placements[d.module] = {
      module: d.module,
      deviceId: deviceIds[d.deviceIndex],
      target: d.target,
      profileId: d.profileId,
      costBreakdown: d.costBreakdown,
      reasons: d.reasons.map((r) => bindDevices(r, deviceIds)),
      rejected: d.rejected.map((r) => ({
        deviceId: deviceIds[r.deviceIndex], target: r.target, code: r.code, message: bindDevices(r.message, deviceIds),
        ...(r.costDelta !== undefined ? { costDelta: r.costDelta } : {}),
      })),
    };
  }
  return {
    systemId: machine.systemId,
    hostname: machine.hostname,
    feasible: s.feasible,
    placements,
    infeasible: s.infeasible.map((x) => ({ ...x, message: bindDevices(x.message, deviceIds) })),
    cost: s.cost,
    lowerBound: s.lowerBound,
    flavourSwitches: Object.fromEntries(s.flavourSwitches.map(([d, id]) => [deviceIds[d], id])),
    solver: s.solver,
  };
}

/** Plan one machine on its own (no equivalence-class cache, no fleet-scoped coupling). */
export function planMachine(machine: PlacementMachine, modules: readonly PlacementModule[], opts: SolveOptions = {}): MachinePlan {
  const p = buildProblem(machine, modules);
  return materialise(machine, p.devices.map((d) => d.id), solveProblem(p, opts));
}
