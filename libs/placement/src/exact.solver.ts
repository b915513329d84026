import { Assignment, MachineProblem } from './machine.problem';

export interface SolveResult {
  /** null when no feasible plan exists (or none was found within the node budget). */
  assignment: Assignment | null;
  cost: number;
  /** Valid lower bound on the optimum. */
  lowerBound: number;
  /** True when cost is proven optimal (or infeasibility proven). */
  optimal: boolean;
  nodes: number;
}

const STAGES = 3;
const EPS = 1e-9;

export function fits(used: Float64Array, cap: Float64Array, res: number[], amt: number[]): boolean {
  for (let k = 0; k < res.length; k++) {
    const r = res[k];
    if (used[r] + amt[k] > cap[r] * (1 + 1e-9) + 1e-9) return false;
  }
  return true;
}

export function capacities(p: MachineProblem): Float64Array {
  return Float64Array.from(p.resources, (r) => r.capacity);
}

/**
 * chainBound[i][s]: cheapest cost of modules i.. whose stages never go below s, ignoring shared
 * capacity and flavour switches. It is the chain-order relaxation (a valid lower bound) and, when
 * capacities do not bind, the optimum itself.
 */
export function chainBound(p: MachineProblem): Float64Array[] {
  const n = p.modules.length;
  const lb: Float64Array[] = Array.from({ length: n + 1 }, () => new Float64Array(STAGES));
  for (let i = n - 1; i >= 0; i--) {
    for (let s = 0; s < STAGES; s++) {
      let best = Infinity;
      for (const c of p.candidates[i]) if (c.stage >= s) best = Math.min(best, c.cost + lb[i + 1][c.stage]);
      lb[i][s] = best;
    }
  }
  return lb;
}

/** The chain relaxation's own argmin: optimal when it also fits every capacity and flavour. */
export function chainRelaxedAssignment(p: MachineProblem, lb: Float64Array[]): Assignment | null {
  const n = p.modules.length;
  const a = new Int32Array(n);
  let stage = 0;
  for (let i = 0; i < n; i++) {
    let pick = -1;
    for (let k = 0; k < p.candidates[i].length; k++) {
      const c = p.candidates[i][k];
      if (c.stage >= stage && Math.abs(c.cost + lb[i + 1][c.stage] - lb[i][stage]) <= EPS * (1 + Math.abs(lb[i][stage]))) {
        pick = k;
        break;
      }
    }
    if (pick < 0) return null;
    a[i] = pick;
    stage = p.candidates[i][pick].stage;
  }
  return a;
}

/**
 * Depth-first branch and bound over the chain. Candidates are tried cheapest first; a node is cut
 * when its cost plus the chain bound of the rest cannot beat the incumbent. `incumbent` (a feasible
 * plan from the heuristic) makes the first cut tight.
 */
export function branchAndBound(p: MachineProblem, opts: { nodeLimit?: number; incumbent?: { assignment: Assignment; cost: number } } = {}): SolveResult {
  const n = p.modules.length;
  const lb = chainBound(p);
  const rootBound = n === 0 ? 0 : lb[0][0];
  if (n === 0) return { assignment: new Int32Array(0), cost: 0, lowerBound: 0, optimal: true, nodes: 0 };
  if (!Number.isFinite(rootBound)) return { assignment: null, cost: Infinity, lowerBound: Infinity, optimal: true, nodes: 0 };
  const cap = capacities(p);
  const used = new Float64Array(cap.length);
  const flav = new Int32Array(p.devices.length).fill(-1);
  const count = new Int32Array(p.devices.length);
  const cur = new Int32Array(n).fill(-1);
  let best = opts.incumbent ? opts.incumbent.cost : Infinity;
  let bestA: Assignment | null = opts.incumbent ? Int32Array.from(opts.incumbent.assignment) : null;
  const nodeLimit = opts.nodeLimit ?? Infinity;
  let nodes = 0;
  let aborted = false;
  const cut = (v: number) => v >= best - EPS * (1 + Math.abs(best));

  const dfs = (i: number, stage: number, cost: number): void => {
    if (aborted) return;
    if (i === n) {
      best = cost;
      bestA = Int32Array.from(cur);
      return;
    }
    if (++nodes > nodeLimit) {
      aborted = true;
      return;
    }
    const cands = p.candidates[i];
    for (let k = 0; k < cands.length; k++) {
      const c = cands[k];
      if (c.stage < stage) continue;
      const f = flav[c.deviceIndex];
      if (f >= 0 && f !== c.flavourIndex) continue;
      const extra = f < 0 ? p.switchCost[c.deviceIndex][c.flavourIndex] : 0;
      const next = cost + c.cost + extra;
      if (cut(next + lb[i + 1][c.stage])) continue;
      if (!fits(used, cap, c.res, c.amt)) continue;
      for (let r = 0; r < c.res.length; r++) used[c.res[r]] += c.amt[r];
      if (count[c.deviceIndex]++ === 0) flav[c.deviceIndex] = c.flavourIndex;
      cur[i] = k;
      dfs(i + 1, c.stage, next);
      cur[i] = -1;
      if (--count[c.deviceIndex] === 0) flav[c.deviceIndex] = -1;
      for (let r = 0; r < c.res.length; r++) used[c.res[r]] -= c.amt[r];
      if (aborted) return;
    }
  };
  dfs(0, 0, 0);
  if (aborted) return { assignment: bestA, cost: best, lowerBound: rootBound, optimal: false, nodes };
  return { assignment: bestA, cost: best, lowerBound: bestA ? best : Infinity, optimal: true, nodes };
}
