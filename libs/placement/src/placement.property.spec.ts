import fc from 'fast-check';
import { branchAndBound } from './exact.solver';
import { filterAndScore, heuristicSolve } from './heuristic.solver';
import { buildProblem } from './machine.problem';
import { evaluate } from './plan.evaluate';
import { solveProblem, solveProblemMilp } from './machine.solver';
import { materialise } from './plan.materialise';
import { HighsSolver, loadHighs, milpSolve } from './milp.solver';
import { machinePlan, planFleet } from './fleet.planner';
import { validatePlan } from './plan.validate';
import { randomInstance, seededRandom } from './placement.generator';
import { PlacementMachine } from './placement.model';

const seeds = fc.integer({ min: 1, max: 2 ** 31 - 1 });
const scale = fc.constantFrom(0.5, 1, 2, 4);
const tol = (x: number) => 1e-7 * (1 + Math.abs(x));
let highs: HighsSolver;

beforeAll(async () => {
  highs = await loadHighs();
});

describe('placement properties over generated fleets and chains', () => {
  it('every plan of the exact, heuristic and MILP solvers passes the validator, and a feasible one runs the whole chain on every port with traffic', () => {
    fc.assert(
      fc.property(seeds, scale, (seed, budgetScale) => {
        const { machine, modules } = randomInstance(seededRandom(seed), { budgetScale });
        const p = buildProblem(machine, modules);
        const ids = p.devices.map((d) => d.id);
        const plans = [
          materialise(machine, ids, solveProblem(p, { solver: 'heuristic' })),
          materialise(machine, ids, solveProblem(p, { solver: 'exact' })),
          materialise(machine, ids, solveProblemMilp(highs, p)),
        ];
        for (const plan of plans) {
          expect(validatePlan(machine, modules, plan)).toEqual([]);
          if (plan.feasible) {
            const withTraffic = machine.ports
              .filter((x) => (x.traffic?.pps ?? 1) > 0)
              .map((x) => x.interface)
              .sort();
            expect(plan.paths.map((x) => x.ingress.interface).sort()).toEqual(withTraffic);
            for (const path of plan.paths) expect(path.hops.map((h) => h.module)).toEqual(modules.map((m) => m.name));
          }
        }
        expect(plans[0].feasible || !plans[1].feasible).toBe(true);
        expect(plans[1].feasible).toBe(plans[2].feasible);
      }),
      { numRuns: 60 },
    );
  });

  it("every plan the equivalence cache hands out passes the validator at each member machine's own traffic", () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const rng = seededRandom(seed);
        const { machine, modules } = randomInstance(rng);
        // Members differ in ids, names and traffic; some share a class, some land in another bucket.
        const fleet: PlacementMachine[] = Array.from({ length: 6 }, (_, k) => {
          const sys = `${machine.systemId}x${k}`;
          const rename = (s: string) => s.replace(machine.systemId, sys);
          const factor = 1 + Math.floor(rng() * 3) * 0.04;
          return {
            ...machine,
            systemId: sys,
            hostname: `h${k}`,
            devices: machine.devices.map((d) => ({ ...d, id: rename(d.id) })),
            hookSlots: Object.fromEntries(Object.entries(machine.hookSlots ?? {}).map(([id, v]) => [rename(id), v])),
            currentPlacement: Object.fromEntries(
              Object.entries(machine.currentPlacement).map(([m, c]) => [m, { ...c, deviceId: rename(c.deviceId) }]),
            ),
            ports: machine.ports.map((x) => (x.traffic ? { ...x, traffic: { ...x.traffic, pps: x.traffic.pps * factor } } : x)),
          };
        });
        const plan = planFleet(fleet, modules);
        fleet.forEach((m, i) => expect(validatePlan(m, modules, machinePlan(plan, i))).toEqual([]));
      }),
      { numRuns: 40 },
    );
  });

  it('a fleet of machines that differ only in per-port traffic gets, machine by machine, the plan each has alone at its real traffic', () => {
    fc.assert(
      fc.property(seeds, (seed) => {
        const rng = seededRandom(seed);
        const { machine, modules } = randomInstance(rng);
        // Per-port factors from 0.5x to 3x: classes are compacted after solving and rebuilt on read.
        const fleet: PlacementMachine[] = Array.from({ length: 5 }, (_, k) => ({
          ...machine,
          systemId: `${machine.systemId}y${k}`,
          hostname: `y${k}`,
          ports: machine.ports.map((x) => ({
            ...x,
            traffic: { pps: (x.traffic?.pps ?? modules[0].traffic.pps) * (0.5 + 2.5 * rng()), meanPacketBytes: 256 },
          })),
        }));
        const plan = planFleet(fleet, modules);
        fleet.forEach((m, i) => {
          const mine = machinePlan(plan, i);
          const alone = materialise(
            m,
            buildProblem(m, modules).devices.map((d) => d.id),
            solveProblem(buildProblem(m, modules)),
          );
          expect(validatePlan(m, modules, mine)).toEqual([]);
          expect(mine.feasible).toBe(alone.feasible);
          if (alone.feasible) expect(mine.cost).toBeCloseTo(alone.cost, 9);
          // Read twice: a rebuilt class gives the same plan again.
          expect(machinePlan(plan, i)).toEqual(mine);
        });
      }),
      { numRuns: 40 },
    );
  });

  it('the heuristic is never better than the HiGHS optimum, and never worse than filter-and-score', () => {
    fc.assert(
      fc.property(seeds, scale, (seed, budgetScale) => {
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
      }),
      { numRuns: 50 },
    );
  });

  it('branch and bound finds exactly the HiGHS optimum (or proves infeasibility with it)', () => {
    fc.assert(
      fc.property(seeds, scale, (seed, budgetScale) => {
        const { machine, modules } = randomInstance(seededRandom(seed), { budgetScale });
        const p = buildProblem(machine, modules);
        const opt = milpSolve(highs, p);
        const bb = branchAndBound(p);
        expect(bb.assignment === null).toBe(opt.assignment === null);
        if (opt.assignment) {
          expect(bb.cost).toBeCloseTo(opt.cost, 6);
          expect(evaluate(p, opt.assignment).feasible).toBe(true);
        }
      }),
      { numRuns: 50 },
    );
  });
});
