import { doubleArray } from './exact.solver';
import { follows, START, type MachineProblem } from './machine.problem';

/** An assignment: candidate index per module (chain order). */
export type Assignment = Int32Array;

export interface Evaluation {
  feasible: boolean;
  cost: number;
  /** First violated constraint, for explanations. */
  violation?: { code: 'capacity' | 'chain_order' | 'flavour' | 'unassigned'; module: number; message: string };
}

/** Cost and feasibility of a full assignment, checking every constraint. */
export function evaluate(p: MachineProblem, a: Assignment): Evaluation {
  // Plain arrays: a typed array costs about ten times more to allocate, and local search evaluates often.
  const used = doubleArray(p.resources.length);
  const flavour = new Array<number>(p.devices.length).fill(-1);
  let cost = 0;
  let stage = START;
  for (let i = 0; i < a.length; i++) {
    if (a[i] < 0) return { feasible: false, cost: Infinity, violation: { code: 'unassigned', module: i, message: 'no candidate' } };
    const c = p.candidates[i][a[i]];
    if (p.chainStart[i]) stage = START;
    if (!follows(stage, c.stage, p.allowed)) {
      return {
        feasible: false,
        cost: Infinity,
        violation: { code: 'chain_order', module: i, message: `hook ${c.hook} cannot follow the earlier module's hook on this port` },
      };
    }
    stage = c.stage;
    const f = flavour[c.deviceIndex];
    if (f >= 0 && f !== c.flavourIndex)
      return { feasible: false, cost: Infinity, violation: { code: 'flavour', module: i, message: 'device flavour conflict' } };
    if (f < 0) {
      flavour[c.deviceIndex] = c.flavourIndex;
      cost += p.switchCost[c.deviceIndex][c.flavourIndex];
    }
    for (let k = 0; k < c.res.length; k++) {
      used[c.res[k]] += c.amt[k];
      if (used[c.res[k]] > p.resources[c.res[k]].capacity * (1 + 1e-9) + 1e-9) {
        return {
          feasible: false,
          cost: Infinity,
          violation: { code: 'capacity', module: i, message: `${p.resources[c.res[k]].label} exceeded` },
        };
      }
    }
    cost += c.cost;
  }
  return { feasible: true, cost };
}
