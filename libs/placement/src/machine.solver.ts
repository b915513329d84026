import { flavoursOf } from './cost.model';
import { branchAndBound, chainBound, chainRelaxedAssignment } from './exact.solver';
import { filterAndScore, heuristicSolve } from './heuristic.solver';
import { ANY_ORDER, MachineProblem, ResourceKind } from './machine.problem';
import { Assignment, evaluate } from './plan.evaluate';
import { HighsSolver, milpSolve } from './milp.solver';
import { blockedModules, DecisionTemplate, explain } from './plan.explain';
import { InfeasibleModule, SolverKind } from './placement.model';

/** greedy: filter-and-score alone (the benchmark's baseline), no search, no proof. */
export type SolverMode = 'auto' | 'exact' | 'heuristic' | 'greedy';

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
  /** The solved problem: explanations are derived from it on first use (see decisionsOf). */
  problem: MachineProblem;
  /** Filled by decisionsOf; a fleet plan explains each class once, when a member is first read. */
  decisions?: DecisionTemplate[];
  infeasible: InfeasibleModule[];
  /** Device index -> profile id it must be flashed to. */
  flavourSwitches: [number, string][];
}

const DEFAULT_NODE_LIMIT = 200_000;

/** The solution of `p` that takes `assignment` (a feasible one), with the figures its solver proved. */
export function solutionOf(
  p: MachineProblem,
  assignment: Assignment,
  cost: number,
  lowerBound: number,
  optimal: boolean,
  solver: SolverKind,
): MachineSolution {
  return withPlan(p, assignment, cost, lowerBound, optimal, solver);
}

function withPlan(
  p: MachineProblem,
  assignment: Assignment,
  cost: number,
  lowerBound: number,
  optimal: boolean,
  solver: SolverKind,
): MachineSolution {
  const switches = new Map<number, string>();
  assignment.forEach((k, i) => {
    const c = p.candidates[i][k];
    if (c.flavourIndex > 0) switches.set(c.deviceIndex, flavoursOf(p.devices[c.deviceIndex])[c.flavourIndex].profileId);
  });
  return { feasible: true, assignment, cost, lowerBound, optimal, solver, problem: p, infeasible: [], flavourSwitches: [...switches] };
}

function relaxed(p: MachineProblem, change: 'chain' | ResourceKind): MachineProblem {
  if (change === 'chain') return { ...p, allowed: ANY_ORDER, candidates: p.candidates.map((cs) => cs.map((c) => ({ ...c, stage: 0 }))) };
  return { ...p, resources: p.resources.map((r) => (r.kind === change ? { ...r, capacity: Infinity } : r)) };
}

/**
 * No joint plan although every module has candidates: find which constraint blocks it.
 * `complete` stays true while every relaxed search ran to the end, i.e. the answer depends only on
 * which candidates exist and what they use, not on their costs (which order the search tries).
 */
function diagnose(p: MachineProblem): { blocked: InfeasibleModule[]; complete: boolean } {
  let complete = true;
  const blocked = diagnoseWith(p, (q) => {
    // Only whether a plan exists matters here: the search stops at the first one it finds.
    const r = branchAndBound(q, { nodeLimit: 50_000, anyFeasible: true });
    if (!r.assignment && !r.optimal) complete = false;
    return r.assignment !== null;
  });
  return { blocked, complete };
}

function diagnoseWith(p: MachineProblem, feasible: (q: MachineProblem) => boolean): InfeasibleModule[] {
  const kinds: ('chain' | ResourceKind)[] = [
    'chain',
    'hostCores',
    'slots',
    'throughput',
    'arm',
    'instructions',
    'mapMemoryBytes',
    'flowRules',
  ];
  const feasibleWithout = (ts: ('chain' | ResourceKind)[]) => feasible(ts.reduce(relaxed, p));
  const name = (t: 'chain' | ResourceKind) => (t === 'chain' ? 'chain_order' : t);
  const what = (t: 'chain' | ResourceKind) =>
    t === 'chain'
      ? 'the hook order on each port (DPU -> NIC -> driver XDP -> generic XDP, native and generic never on one netdev)'
      : t === 'hostCores'
        ? `the host-core budget (${p.machine.hostCoreBudget} cores)`
        : `the shared device ${t}`;
  for (const t of kinds) {
    if (feasibleWithout([t]))
      return p.chain.map((m) => ({
        module: m.name,
        constraint: name(t),
        message: `every module fits alone, but together they break ${what(t)}`,
      }));
  }
  for (let i = 0; i < kinds.length; i++) {
    for (let j = i + 1; j < kinds.length; j++) {
      if (!feasibleWithout([kinds[i], kinds[j]])) continue;
      const constraint = `${name(kinds[i])}+${name(kinds[j])}`;
      return p.chain.map((m) => ({
        module: m.name,
        constraint,
        message: `together the modules break ${what(kinds[i])} and ${what(kinds[j])}; relaxing either alone is not enough`,
      }));
    }
  }
  return p.chain.map((m) => ({
    module: m.name,
    constraint: 'capacity',
    message: 'no combination of hooks satisfies the shared capacities and hook order together',
  }));
}

/**
 * Infeasible solutions whose verdict and diagnosis hold for any problem with the same candidates
 * and resources whatever their costs (proven by exhaustive search): see infeasibleAs.
 */
const costIndependent = new WeakSet<MachineSolution>();

function infeasible(p: MachineProblem, solver: SolverKind, lowerBound = Infinity, proven = false): MachineSolution {
  const blocked = blockedModules(p);
  const d = blocked.length ? { blocked, complete: true } : diagnose(p);
  const s: MachineSolution = {
    feasible: false,
    assignment: null,
    cost: Infinity,
    lowerBound,
    optimal: true,
    solver,
    problem: p,
    decisions: [],
    infeasible: d.blocked,
    flavourSwitches: [],
  };
  if (proven && d.complete) costIndependent.add(s);
  return s;
}

/**
 * The solution of a problem already proven to have no plan (by the chain relaxation on the same
 * inputs): only which constraint blocks it is left to find, not whether one does.
 */
export function provenInfeasible(p: MachineProblem): MachineSolution {
  return infeasible(p, 'exact', Infinity, true);
}

/**
 * `prior`'s verdict for `p` when it carries over: same candidates (device, flavour, target, use)
 * and resources, only costs differ, and prior's infeasibility was proven without node limits.
 * Feasibility never looks at costs, so solving `p` would reach the same verdict and diagnosis.
 */
export function infeasibleAs(p: MachineProblem, prior: MachineSolution): MachineSolution | null {
  if (!costIndependent.has(prior)) return null;
  const s: MachineSolution = {
    ...prior,
    problem: p,
    decisions: [],
    infeasible: prior.infeasible.map((x) => ({ ...x })),
    flavourSwitches: [],
  };
  costIndependent.add(s);
  return s;
}

export function solveProblem(p: MachineProblem, opts: SolveOptions = {}): MachineSolution {
  const mode = opts.solver ?? 'auto';
  if (p.candidates.some((c) => c.length === 0))
    return infeasible(p, mode === 'heuristic' || mode === 'greedy' ? 'heuristic' : 'exact', Infinity, true);
  if (mode === 'greedy') {
    const g = filterAndScore(p);
    if (!g.assignment) return infeasible(p, 'heuristic', chainBound(p).root);
    return withPlan(p, g.assignment, g.cost, chainBound(p).root, false, 'heuristic');
  }
  if (mode === 'heuristic') {
    const h = heuristicSolve(p);
    if (!h.assignment) return infeasible(p, 'heuristic', h.lowerBound);
    return withPlan(p, h.assignment, h.cost, h.lowerBound, h.optimal, h.optimal ? 'exact' : 'heuristic');
  }
  // Branch and bound is cheap on per-machine chains (a few modules, a few targets each): seed it
  // with filter-and-score and let it prove optimality; the heuristic only takes over when the
  // node budget runs out on a large instance.
  // When shared capacities and firmware flavours do not bind, the chain relaxation's own plan
  // fits and meets its bound: it is optimal and no search is needed (most classes of a fleet).
  const lb = chainBound(p);
  const bound = lb.root;
  const relaxed = Number.isFinite(bound) ? chainRelaxedAssignment(p, lb) : null;
  if (relaxed) {
    const e = evaluate(p, relaxed);
    if (e.feasible && e.cost <= bound + 1e-12 * (1 + bound)) return withPlan(p, relaxed, e.cost, e.cost, true, 'exact');
  }
  const seed = filterAndScore(p);
  const nodeLimit = mode === 'exact' ? Infinity : (opts.nodeLimit ?? DEFAULT_NODE_LIMIT);
  const bb = branchAndBound(p, {
    nodeLimit,
    lb,
    incumbent: seed.assignment ? { assignment: seed.assignment, cost: seed.cost } : undefined,
  });
  if (bb.optimal) {
    if (!bb.assignment) return infeasible(p, 'exact', Infinity, true);
    return withPlan(p, bb.assignment, bb.cost, bb.cost, true, 'exact');
  }
  const h = heuristicSolve(p);
  const best = h.assignment && (!bb.assignment || h.cost < bb.cost) ? h : bb;
  if (!best.assignment) return infeasible(p, 'heuristic', Math.max(bb.lowerBound, h.lowerBound));
  return withPlan(p, best.assignment, best.cost, Math.max(bb.lowerBound, h.lowerBound), false, 'heuristic');
}

/** The same machine solved by HiGHS (for verification and small instances). */
export function solveProblemMilp(highs: HighsSolver, p: MachineProblem): MachineSolution {
  if (p.candidates.some((c) => c.length === 0)) return infeasible(p, 'milp');
  const r = milpSolve(highs, p);
  if (!r.assignment) return infeasible(p, 'milp');
  return withPlan(p, r.assignment, r.cost, r.cost, true, 'milp');
}

/** Reasons for every decision of a solution, computed once and kept. */
export function decisionsOf(s: MachineSolution): DecisionTemplate[] {
  s.decisions ??= s.assignment ? explain(s.problem, s.assignment) : [];
  return s.decisions;
}
