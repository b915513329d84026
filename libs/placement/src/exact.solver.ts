import { follows, MachineProblem, START, STATES as STAGES, stateAfter } from './machine.problem';
import type { Assignment } from './plan.evaluate';

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

const EPS = 1e-9;

export function fits(used: readonly number[], cap: readonly number[], res: readonly number[], amt: readonly number[]): boolean {
  for (let k = 0; k < res.length; k++) {
    const r = res[k];
    if (used[r] + amt[k] > cap[r] * (1 + 1e-9) + 1e-9) return false;
  }
  return true;
}

/**
 * Per-solve buffers are plain arrays, not typed arrays: a typed array costs about ten times more
 * to allocate, and a fleet plan makes thousands of these small buffers.
 */
export function capacities(p: MachineProblem): number[] {
  return p.resources.map((r) => r.capacity);
}

export function filledArray(n: number, value: number): number[] {
  return new Array<number>(n).fill(value);
}

/**
 * A zeroed array that will hold fractions: made with double elements from the start, since an
 * array of small integers is copied into a new store the first time a fraction is written to it.
 */
export function doubleArray(n: number): number[] {
  return new Array<number>(n).fill(0.5).fill(0);
}

/**
 * The chain-order relaxation: `at(i, s)` is the cheapest cost of rows i.. whose hooks may follow
 * state s (see follows; a port's first row starts from 0), ignoring shared capacity and flavour switches. A valid lower bound and, when
 * capacities do not bind, the optimum itself. One flat array: it is built for every class solved.
 */
export class ChainBound {
  private readonly v: number[];

  constructor(p: MachineProblem) {
    const n = p.modules.length;
    const v = (this.v = doubleArray((n + 1) * STAGES));
    for (let i = n - 1; i >= 0; i--) {
      const cands = p.candidates[i];
      for (let s = 0; s < STAGES; s++) {
        let best = Infinity;
        for (let k = 0; k < cands.length; k++) {
          const c = cands[k];
          if (follows(s, c.stage, p.allowed)) best = Math.min(best, c.cost + v[(i + 1) * STAGES + stateAfter(p, i, c.stage)]);
        }
        v[i * STAGES + s] = best;
      }
    }
  }

  at(i: number, stage: number): number {
    return this.v[i * STAGES + stage];
  }

  /** The bound of the whole chain. */
  get root(): number {
    return this.v[START];
  }
}

export function chainBound(p: MachineProblem): ChainBound {
  return new ChainBound(p);
}

/** The chain relaxation's own argmin: optimal when it also fits every capacity and flavour. */
export function chainRelaxedAssignment(p: MachineProblem, lb: ChainBound): Assignment | null {
  const n = p.modules.length;
  const a = new Int32Array(n);
  let stage = START;
  for (let i = 0; i < n; i++) {
    let pick = -1;
    const here = lb.at(i, stage);
    for (let k = 0; k < p.candidates[i].length; k++) {
      const c = p.candidates[i][k];
      if (
        follows(stage, c.stage, p.allowed) &&
        Math.abs(c.cost + lb.at(i + 1, stateAfter(p, i, c.stage)) - here) <= EPS * (1 + Math.abs(here))
      ) {
        pick = k;
        break;
      }
    }
    if (pick < 0) return null;
    a[i] = pick;
    stage = stateAfter(p, i, p.candidates[i][pick].stage);
  }
  return a;
}

/**
 * The least each resource must still carry: `for(i, s)` lists, for modules i.. with stages never
 * below s, every resource they cannot avoid using and the least they put on it (each resource
 * minimised on its own, so a valid bound). A node whose usage plus this exceeds a capacity has no
 * feasible completion: this is what makes proving a machine infeasible cheap.
 */
class RemainingUse {
  /**
   * Only resources that can bind are tracked: one where even every module's largest use fits
   * never cuts a node. Usually a handful of a machine's rows (host cores, slots), so the bound
   * costs little to build and to check.
   */
  private readonly tracked: number[];
  /** need[(i * STAGES + s) * T + t] for tracked resource t; row n is all zeros. */
  private readonly need: number[];

  constructor(p: MachineProblem, cap: readonly number[]) {
    const n = p.modules.length;
    const R = p.resources.length;
    // worst[r]: every module's largest use of r added up. `seen` marks which module last raised
    // most[r], so the per-module maxima need no clearing between modules.
    const worst = doubleArray(R);
    const most = doubleArray(R);
    const seen = filledArray(R, -1);
    for (let i = 0; i < n; i++) {
      const cands = p.candidates[i];
      for (let k = 0; k < cands.length; k++) {
        const c = cands[k];
        for (let t = 0; t < c.res.length; t++) {
          const r = c.res[t];
          if (seen[r] !== i) {
            seen[r] = i;
            most[r] = 0;
          }
          if (c.amt[t] > most[r]) {
            worst[r] += c.amt[t] - most[r];
            most[r] = c.amt[t];
          }
        }
      }
    }
    const tracked: number[] = [];
    const slot = filledArray(R, -1);
    for (let r = 0; r < R; r++) {
      if (worst[r] > cap[r] * (1 + 1e-9) + 1e-9) slot[r] = tracked.push(r) - 1;
    }
    this.tracked = tracked;
    this.slot = slot;
    this.p = p;
    const T = tracked.length;
    this.need = doubleArray((n + 1) * STAGES * T);
    this.own = doubleArray(T);
    // Row n (past the last module) needs nothing; the rest is computed when first asked for.
    this.known = filledArray((n + 1) * STAGES, 0);
    this.known.fill(1, n * STAGES);
  }

  private readonly slot: number[];
  private readonly p: MachineProblem;
  private readonly own: number[];
  /** 1 where need already holds (i, s): branch and bound visits few states, so most are never computed. */
  private readonly known: number[];

  /** Fill need for (i, s) and every state it depends on (the same minimum, over the same terms, as a full table). */
  private compute(i: number, s: number): void {
    const p = this.p;
    const T = this.tracked.length;
    const need = this.need;
    const slot = this.slot;
    const own = this.own;
    const cands = p.candidates[i];
    for (let k = 0; k < cands.length; k++) {
      const c = cands[k];
      if (!follows(s, c.stage, p.allowed)) continue;
      const after = stateAfter(p, i, c.stage);
      if (this.known[(i + 1) * STAGES + after] === 0) this.compute(i + 1, after);
    }
    const row = (i * STAGES + s) * T;
    need.fill(Infinity, row, row + T);
    for (let k = 0; k < cands.length; k++) {
      const c = cands[k];
      if (!follows(s, c.stage, p.allowed)) continue;
      const next = ((i + 1) * STAGES + stateAfter(p, i, c.stage)) * T;
      for (let t = 0; t < c.res.length; t++) if (slot[c.res[t]] >= 0) own[slot[c.res[t]]] += c.amt[t];
      for (let t = 0; t < T; t++) {
        const v = own[t] + need[next + t];
        if (v < need[row + t]) need[row + t] = v;
        own[t] = 0;
      }
    }
    this.known[i * STAGES + s] = 1;
  }

  /** True when what is used now plus the least modules i.. (stages >= s) must add fits every capacity. */
  fits(i: number, s: number, used: readonly number[], cap: readonly number[]): boolean {
    const tracked = this.tracked;
    const T = tracked.length;
    if (T === 0) return true;
    if (this.known[i * STAGES + s] === 0) this.compute(i, s);
    const row = (i * STAGES + s) * T;
    const need = this.need;
    for (let t = 0; t < T; t++) {
      const r = tracked[t];
      const x = need[row + t];
      if (x > 0 && used[r] + x > cap[r] * (1 + 1e-9) + 1e-9) return false;
    }
    return true;
  }
}

/**
 * Depth-first branch and bound over the chain. Candidates are tried cheapest first; a node is cut
 * when its cost plus the chain bound of the rest cannot beat the incumbent. `incumbent` (a feasible
 * plan from the heuristic) makes the first cut tight.
 */
export function branchAndBound(
  p: MachineProblem,
  opts: {
    nodeLimit?: number;
    incumbent?: { assignment: Assignment; cost: number };
    lb?: ChainBound;
    /** Stop at the first feasible plan: the caller only asks whether one exists (not optimal then). */
    anyFeasible?: boolean;
  } = {},
): SolveResult {
  const n = p.modules.length;
  const lb = opts.lb ?? chainBound(p);
  const rootBound = n === 0 ? 0 : lb.root;
  if (n === 0) return { assignment: new Int32Array(0), cost: 0, lowerBound: 0, optimal: true, nodes: 0 };
  if (!Number.isFinite(rootBound)) return { assignment: null, cost: Infinity, lowerBound: Infinity, optimal: true, nodes: 0 };
  const cap = capacities(p);
  const remaining = new RemainingUse(p, cap);
  const used = doubleArray(cap.length);
  if (!remaining.fits(0, START, used, cap)) return { assignment: null, cost: Infinity, lowerBound: Infinity, optimal: true, nodes: 0 };
  const flav = filledArray(p.devices.length, -1);
  const count = filledArray(p.devices.length, 0);
  const cur = filledArray(n, -1);
  let best = opts.incumbent ? opts.incumbent.cost : Infinity;
  // One buffer for the best plan, overwritten on each improvement (dfs reaches many leaves).
  const bestBuf = filledArray(n, -1);
  let found = false;
  if (opts.incumbent) {
    for (let i = 0; i < n; i++) bestBuf[i] = opts.incumbent.assignment[i];
    found = true;
  }
  const nodeLimit = opts.nodeLimit ?? Infinity;
  let nodes = 0;
  let aborted = false;
  const cut = (v: number) => v >= best - EPS * (1 + Math.abs(best));

  // Path costs live in a typed array, not in arguments: a double passed through the recursion
  // would be boxed on every call.
  const pathCost = doubleArray(n + 1);
  const dfs = (i: number, stage: number): void => {
    if (aborted) return;
    if (i === n) {
      best = pathCost[n];
      for (let j = 0; j < n; j++) bestBuf[j] = cur[j];
      found = true;
      if (opts.anyFeasible) aborted = true;
      return;
    }
    if (++nodes > nodeLimit) {
      aborted = true;
      return;
    }
    const cands = p.candidates[i];
    for (let k = 0; k < cands.length; k++) {
      const c = cands[k];
      if (!follows(stage, c.stage, p.allowed)) continue;
      const f = flav[c.deviceIndex];
      if (f >= 0 && f !== c.flavourIndex) continue;
      const extra = f < 0 ? p.switchCost[c.deviceIndex][c.flavourIndex] : 0;
      const next = pathCost[i] + c.cost + extra;
      const after = stateAfter(p, i, c.stage);
      if (cut(next + lb.at(i + 1, after))) continue;
      if (!fits(used, cap, c.res, c.amt)) continue;
      for (let r = 0; r < c.res.length; r++) used[c.res[r]] += c.amt[r];
      if (remaining.fits(i + 1, after, used, cap)) {
        if (count[c.deviceIndex]++ === 0) flav[c.deviceIndex] = c.flavourIndex;
        cur[i] = k;
        pathCost[i + 1] = next;
        dfs(i + 1, after);
        cur[i] = -1;
        if (--count[c.deviceIndex] === 0) flav[c.deviceIndex] = -1;
      }
      for (let r = 0; r < c.res.length; r++) used[c.res[r]] -= c.amt[r];
      if (aborted) return;
    }
  };
  dfs(0, START);
  const bestA: Assignment | null = found ? Int32Array.from(bestBuf) : null;
  if (aborted) return { assignment: bestA, cost: best, lowerBound: rootBound, optimal: false, nodes };
  return { assignment: bestA, cost: best, lowerBound: bestA ? best : Infinity, optimal: true, nodes };
}
