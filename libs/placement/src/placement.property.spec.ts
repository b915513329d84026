import fc from 'fast-check';
import { branchAndBound } from './exact.solver';
import { filterAndScore, heuristicSolve } from './heuristic.solver';
import { buildProblem } from './machine.problem';
import { evaluate } from './plan.evaluate';
import { materialise, solveProblem } from './machine.solver';
import { HighsSolver, loadHighs, milpSolve } from './milp.solver';
import { validatePlan } from './plan.validate';
import { randomInstance, seededRandom } from './placement.generator';

const seeds = fc.integer({ min: 1, max: 2 ** 31 - 1 });
const scale = fc.constantFrom(0.5, 1, 2, 4);
const tol = (x: number) => 1e-7 * (1 + Math.abs(x));
let highs: HighsSolver;

beforeAll(async () => {
  highs = await loadHighs();
});

describe('placement properties', () => {
  it('every plan respects every capacity, chain, flavour and verifier constraint (heuristic and exact)', () => {
    fc.assert(fc.property(seeds, scale, (seed, budgetScale) => {
      const { machine, modules } = randomInstance(seededRandom(seed), { budgetScale });
      const p = buildProblem(machine, modules);
      const ids = p.devices.map((d) => d.id);
      for (const solver of ['heuristic', 'exact'] as const) {
        const plan = materialise(machine, ids, solveProblem(p, { solver }));
        expect(validatePlan(machine, modules, plan)).toEqual([]);
      }
    }), { numRuns: 50 });
  });

  it('the heuristic is never better than the HiGHS optimum, and never worse than filter-and-score', () => {
    fc.assert(fc.property(seeds, scale, (seed, budgetScale) => {
      const { machine, modules } = randomInstance(seededRandom(seed), { budgetScale });
      const p = buildProblem(machine, modules);
      const opt = milpSolve(highs, p);
      const h = heuristicSolve(p);
      const base = filterAndScore(p);
      if (h.assignment) {
        expect(evaluate(p, h.assignment)).toEqual({ feasible: true, cost: expect.closeTo(h.cost, 9) });
        expect(opt.assignment).not.toBeNull();
        expect(h.cost).toBeGreaterThanOrEqual(opt.cost - tol(opt.cost));
        expect(h.lowerBound).toBeLessThanOrEqual(opt.cost + tol(opt.cost));
      }
      if (base.assignment) {
        expect(h.assignment).not.toBeNull();
        expect(h.cost).toBeLessThanOrEqual(base.cost + tol(base.cost));
      }
    }), { numRuns: 50 });
  });

  it('branch and bound finds exactly the HiGHS optimum (or proves infeasibility with it)', () => {
    fc.assert(fc.property(seeds, scale, (seed, budgetScale) => {
      const { machine, modules } = randomInstance(seededRandom(seed), { budgetScale });
      const p = buildProblem(machine, modules);
      const opt = milpSolve(highs, p);
      const bb = branchAndBound(p);
      expect(bb.assignment === null).toBe(opt.assignment === null);
      if (opt.assignment) {
        expect(bb.cost).toBeCloseTo(opt.cost, 6);
        expect(evaluate(p, opt.assignment).feasible).toBe(true);
      }
    }), { numRuns: 50 });
  });
});
