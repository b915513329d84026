import fc from 'fast-check';
import { buildProblem } from './machine.problem';
import { solveProblem } from './machine.solver';
import { materialise } from './plan.materialise';
import { randomInstance, seededRandom } from './placement.generator';

const seeds = fc.integer({ min: 1, max: 2 ** 31 - 1 });

/**
 * Refused positions are worded when read (plan.explain Refusal, machine.solver BoundRejection):
 * what a reader, the API's JSON and the CLI see must be what plain objects carried before.
 */
describe("a plan's refused positions, worded when read", () => {
  it("read, and as JSON, every refusal has its fields in plain-object order, a message with this machine's device ids, and costDelta only for cost", () => {
    let refusals = 0;
    fc.assert(
      fc.property(seeds, fc.constantFrom(0.5, 1, 2, 4), (seed, budgetScale) => {
        const { machine, modules } = randomInstance(seededRandom(seed), { budgetScale });
        const p = buildProblem(machine, modules);
        const plan = materialise(
          machine,
          p.devices.map((d) => d.id),
          solveProblem(p, { solver: 'exact' }),
        );
        const json = JSON.parse(JSON.stringify(plan));
        plan.paths.forEach((path, pi) =>
          path.hops.forEach((hop, hi) =>
            hop.rejected.forEach((r, ri) => {
              refusals++;
              const shown = json.paths[pi].hops[hi].rejected[ri];
              const keys = [
                'deviceId',
                'target',
                'hook',
                'interface',
                'rule',
                'code',
                'message',
                ...(r.code === 'cost' ? ['costDelta'] : []),
              ];
              expect(Object.keys(shown)).toEqual(keys);
              expect(shown).toEqual({
                deviceId: r.deviceId,
                target: r.target,
                hook: r.hook,
                interface: r.interface,
                rule: r.rule,
                code: r.code,
                message: r.message,
                ...(r.code === 'cost' ? { costDelta: r.costDelta } : {}),
              });
              expect(typeof r.message).toBe('string');
              expect(r.message.length).toBeGreaterThan(0);
              expect(r.message).not.toContain('{device:');
              if (r.code === 'cost') expect(r.message).toMatch(/^feasible but costs -?[\d.]+ hce more \(/);
              if (r.code === 'capacity') expect(r.message).toMatch(/other modules use|alone/);
            }),
          ),
        );
      }),
      { numRuns: 150, seed: 7 },
    );
    expect(refusals).toBeGreaterThan(100);
  });
});
