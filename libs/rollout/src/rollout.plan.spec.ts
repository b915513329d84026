import { assertTransition, StateTransitionError } from './machine.state';
import { planWaves, waveVerdict } from './rollout.plan';

const policy = { canary: 1, waves: [25, 50, 100], maxUnavailable: 2, failureThreshold: 0.2 };
const ids = (n: number) => Array.from({ length: n }, (_, i) => `m${i}`);

describe(planWaves.name, () => {
  it('puts the canary first, then cumulative shares, covering every machine once', () => {
    const plan = planWaves('pl-1', ids(20), policy);
    expect(plan.waves.map((w) => w.machines.length)).toEqual([1, 4, 5, 10]);
    expect(plan.waves.flatMap((w) => w.machines)).toEqual(ids(20));
  });

  it('never makes an empty wave for small fleets', () => {
    expect(planWaves('p', ids(2), policy).waves.map((w) => w.machines)).toEqual([['m0'], ['m1']]);
    expect(planWaves('p', ids(1), policy).waves).toHaveLength(1);
    expect(planWaves('p', [], policy).waves).toEqual([]);
  });

  it('works without a canary', () => {
    expect(planWaves('p', ids(4), { ...policy, canary: 0, waves: [50] }).waves.map((w) => w.machines.length)).toEqual([2, 2]);
  });
});

describe(waveVerdict.name, () => {
  it('halts only past the threshold', () => {
    expect(waveVerdict(['committed', 'committed', 'committed', 'committed', 'rolled-back'], 0.2).halt).toBe(false);
    expect(waveVerdict(['committed', 'committed', 'rolled-back', 'failed'], 0.2)).toEqual({ failed: 2, total: 4, halt: true });
  });
});

describe(assertTransition.name, () => {
  it('allows the happy path and refuses skipping back', () => {
    expect(() => assertTransition('pending', 'flashing')).not.toThrow();
    expect(() => assertTransition('verifying', 'committed')).not.toThrow();
    expect(() => assertTransition('committed', 'loading')).toThrow(StateTransitionError);
    expect(() => assertTransition('rolled-back', 'committed')).toThrow(/rolled-back -> committed/);
  });
});
