import { follows, MachineProblem, START, stateAfter } from './machine.problem';
import { Assignment, evaluate } from './plan.evaluate';
import {
  branchAndBound,
  capacities,
  chainBound,
  chainRelaxedAssignment,
  doubleArray,
  filledArray,
  fits,
  SolveResult,
} from './exact.solver';

/**
 * Filter-and-score, the baseline the issue compares against: walk the chain, and for each module
 * take the cheapest candidate that still fits what earlier modules left (capacity, flavour, chain
 * order). No look-ahead, no revision; it can dead-end where a plan exists.
 */
export function filterAndScore(p: MachineProblem): { assignment: Assignment | null; cost: number } {
  const n = p.modules.length;
  const cap = capacities(p);
  const used = doubleArray(cap.length);
  const flav = filledArray(p.devices.length, -1);
  const a = new Int32Array(n);
  let stage = START;
  let cost = 0;
  for (let i = 0; i < n; i++) {
    let pick = -1;
    const cands = p.candidates[i];
    for (let k = 0; k < cands.length && pick < 0; k++) {
      const c = cands[k];
      if (!follows(stage, c.stage, p.allowed)) continue;
      const f = flav[c.deviceIndex];
      if (f >= 0 && f !== c.flavourIndex) continue;
      if (!fits(used, cap, c.res, c.amt)) continue;
      pick = k;
    }
    if (pick < 0) return { assignment: null, cost: Infinity };
    const c = cands[pick];
    if (flav[c.deviceIndex] < 0) {
      flav[c.deviceIndex] = c.flavourIndex;
      cost += p.switchCost[c.deviceIndex][c.flavourIndex];
    }
    for (let r = 0; r < c.res.length; r++) used[c.res[r]] += c.amt[r];
    stage = stateAfter(p, i, c.stage);
    cost += c.cost;
    a[i] = pick;
  }
  return { assignment: a, cost };
}

/**
 * Improve a feasible assignment by moving one module, then two modules at once, to other
 * candidates, keeping every move that lowers the cost, until no move does (or `maxPasses`).
 * Only feasible assignments are accepted, so the result never costs more than the start.
 */
export function localSearch(
  p: MachineProblem,
  start: Assignment,
  startCost: number,
  maxPasses = 20,
): { assignment: Assignment; cost: number } {
  const a = Int32Array.from(start);
  let cost = startCost;
  const n = a.length;
  const better = (v: number) => v < cost - 1e-12 * (1 + Math.abs(cost));
  for (let pass = 0; pass < maxPasses; pass++) {
    let improved = false;
    for (let i = 0; i < n; i++) {
      const keep = a[i];
      for (let k = 0; k < p.candidates[i].length; k++) {
        if (k === keep) continue;
        a[i] = k;
        const e = evaluate(p, a);
        if (e.feasible && better(e.cost)) {
          cost = e.cost;
          improved = true;
          break;
        }
        a[i] = keep;
      }
    }
    if (improved) continue;
    // Pair moves: two modules trade a device or move up/down the chain together.
    outer: for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const ki = a[i];
        const kj = a[j];
        for (let x = 0; x < p.candidates[i].length; x++) {
          for (let y = 0; y < p.candidates[j].length; y++) {
            if (x === ki && y === kj) continue;
            a[i] = x;
            a[j] = y;
            const e = evaluate(p, a);
            if (e.feasible && better(e.cost)) {
              cost = e.cost;
              improved = true;
              break outer;
            }
          }
        }
        a[i] = ki;
        a[j] = kj;
      }
    }
    if (!improved) break;
  }
  return { assignment: a, cost };
}

/**
 * The fast heuristic: the chain relaxation's plan when it fits (then it is optimal), otherwise the
 * better of filter-and-score and a repair of the relaxed plan, polished by local search. It carries
 * the chain bound as a lower bound, so callers know how far from optimal it can be. When neither
 * start is feasible it falls back to a small branch and bound.
 */
export function heuristicSolve(p: MachineProblem): SolveResult {
  const n = p.modules.length;
  const lb = chainBound(p);
  const bound = n === 0 ? 0 : lb.root;
  if (n === 0) return { assignment: new Int32Array(0), cost: 0, lowerBound: 0, optimal: true, nodes: 0 };
  if (!Number.isFinite(bound)) return { assignment: null, cost: Infinity, lowerBound: Infinity, optimal: true, nodes: 0 };
  const relaxed = chainRelaxedAssignment(p, lb);
  const starts: { assignment: Assignment; cost: number }[] = [];
  if (relaxed) {
    const e = evaluate(p, relaxed);
    if (e.feasible && e.cost <= bound + 1e-12 * (1 + bound))
      return { assignment: relaxed, cost: e.cost, lowerBound: bound, optimal: true, nodes: 0 };
    if (e.feasible) starts.push({ assignment: relaxed, cost: e.cost });
  }
  const base = filterAndScore(p);
  if (base.assignment) starts.push({ assignment: base.assignment, cost: base.cost });
  const repaired = relaxed ? repair(p, relaxed) : null;
  if (repaired) starts.push(repaired);
  if (starts.length === 0) {
    const bb = branchAndBound(p, { nodeLimit: 5_000 });
    return bb.assignment ? { ...bb, lowerBound: bb.optimal ? bb.cost : bound } : { ...bb, lowerBound: bb.optimal ? Infinity : bound };
  }
  let best: { assignment: Assignment; cost: number } | null = null;
  for (const s of starts) {
    const r = localSearch(p, s.assignment, s.cost);
    if (!best || r.cost < best.cost) best = r;
  }
  return {
    assignment: best!.assignment,
    cost: best!.cost,
    lowerBound: bound,
    optimal: best!.cost <= bound + 1e-12 * (1 + bound),
    nodes: 0,
  };
}

/** Keep the relaxed plan's choices where they fit; elsewhere take the cheapest candidate that does. */
function repair(p: MachineProblem, relaxed: Assignment): { assignment: Assignment; cost: number } | null {
  const n = relaxed.length;
  const cap = capacities(p);
  const used = doubleArray(cap.length);
  const flav = filledArray(p.devices.length, -1);
  const a = new Int32Array(n);
  let stage = START;
  for (let i = 0; i < n; i++) {
    const cands = p.candidates[i];
    const ok = (k: number) => {
      const c = cands[k];
      const f = flav[c.deviceIndex];
      return follows(stage, c.stage, p.allowed) && (f < 0 || f === c.flavourIndex) && fits(used, cap, c.res, c.amt);
    };
    let pick = ok(relaxed[i]) ? relaxed[i] : -1;
    // Prefer the relaxed plan's stage so later modules keep their cheap tiers.
    const want = cands[relaxed[i]].stage;
    for (let k = 0; k < cands.length && pick < 0; k++) if (cands[k].stage === want && ok(k)) pick = k;
    for (let k = 0; k < cands.length && pick < 0; k++) if (ok(k)) pick = k;
    if (pick < 0) return null;
    const c = cands[pick];
    if (flav[c.deviceIndex] < 0) flav[c.deviceIndex] = c.flavourIndex;
    for (let r = 0; r < c.res.length; r++) used[c.res[r]] += c.amt[r];
    stage = stateAfter(p, i, c.stage);
    a[i] = pick;
  }
  const e = evaluate(p, a);
  return e.feasible ? { assignment: a, cost: e.cost } : null;
}
