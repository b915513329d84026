import fc from 'fast-check';
import { selectReplicas, SelectionInput } from './fleet.scope';
import { buildProblem, devicesOf, relaxedCost, rowTraffic } from './machine.problem';
import { solveProblem } from './machine.solver';
import { randomInstance, seededRandom } from './placement.generator';
import { PlacementMachine, PlacementModule } from './placement.model';
import { staticFilter } from './static.filter';

const seeds = fc.integer({ min: 1, max: 2 ** 31 - 1 });

describe('replica pricing by lower bound', () => {
  it('relaxedCost never exceeds the cost of the plan the solver finds, and is Infinity only for an infeasible machine', () => {
    fc.assert(
      fc.property(seeds, fc.constantFrom(0.5, 1, 2, 4), (seed, budgetScale) => {
        const { machine, modules } = randomInstance(seededRandom(seed), { budgetScale });
        const p = buildProblem(machine, modules);
        const statics = staticFilter(p.chain, p.devices, p.ports, p.hostDevice);
        const lb = relaxedCost(machine, p.chain, devicesOf(machine), p.ports, statics, rowTraffic(machine, p.chain, p.ports));
        const s = solveProblem(p, { solver: 'exact' });
        if (s.feasible) expect(lb).toBeLessThanOrEqual(s.cost + 1e-9 * (1 + Math.abs(s.cost)));
        if (lb === Infinity) expect(s.feasible).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it('the greedy prices fewer machines with bounds and picks exactly what pricing every machine picks', () => {
    fc.assert(
      fc.property(seeds, fc.integer({ min: 1, max: 30 }), fc.constantFrom(2, 5, 100), (seed, want, perZone) => {
        const rng = seededRandom(seed);
        const n = 120;
        const machines = Array.from({ length: n }, (_, h) => ({
          systemId: `s${h}`,
          hostname: `h${h}`,
          zone: `z${h % 3}`,
        })) as PlacementMachine[];
        const base = machines.map(() => (rng() < 0.05 ? null : rng() * 10));
        // Few distinct added costs, so ties are broken by hostname as often as by cost.
        const added = machines.map(() => (rng() < 0.1 ? null : Math.round(rng() * 8) - 3));
        const slack = machines.map(() => (rng() < 0.2 ? 0 : rng() * 4));
        const scoped = [{ name: 'dns', scope: { selector: {}, maxPerZone: perZone } }] as unknown as PlacementModule[];
        let priced = 0;
        const input = (bounded: boolean): SelectionInput => ({
          machines,
          scoped,
          demands: [{ replicas: want, pps: 1 }],
          eligible: [machines.map((_, h) => h)],
          milpMaxColumns: 0,
          costOf: (h, mask) => {
            if (mask === 0) return base[h];
            priced++;
            return base[h] === null || added[h] === null ? null : base[h]! + added[h]!;
          },
          lowerBoundOf: bounded
            ? (h) => (base[h] === null || added[h] === null ? (slack[h] > 2 ? Infinity : -5) : base[h]! + added[h]! - slack[h])
            : undefined,
        });
        const full = selectReplicas(input(false));
        const pricedAll = priced;
        priced = 0;
        const lazy = selectReplicas(input(true));
        expect(lazy).toEqual(full);
        expect(priced).toBeLessThanOrEqual(pricedAll);
      }),
      { numRuns: 200 },
    );
  });
});
