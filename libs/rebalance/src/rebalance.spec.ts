import type { Target } from '@ioplane/domain';
import { device } from '@ioplane/domain/testing';
import { catalogDevice, PlacementMachine, PlacementModule, PlacementVerdict } from '@ioplane/placement';
import { countFlaps, CommittedMove, holdModules, MachineState, step } from './rebalance.decide';
import { evaluateMachine } from './rebalance.evaluate';
import { RebalanceRule, rebalancePolicySchema, rebalanceRuleSchema, ruleFor, upsertRule } from './rebalance.policy';
import { windowRates } from './telemetry.window';

// A zone-c host of the demo fleet: ConnectX-7 (host XDP, flow offload) and a BlueField-3.
const CX7 = device('smartnic', { machine: 'c1' });
const BF3 = device('bluefield-3', { machine: 'c1', slot: 2 });
function verdicts(): Record<string, PlacementVerdict> {
  const accept = (ts: Target[]): PlacementVerdict => ({ acceptedTargets: ts, reasons: [] });
  return {
    'host-kernel': accept(['host-xdp-native', 'host-xdp-generic']),
    'mellanox-connectx-7-28.39': accept(['host-xdp-native']),
    'nvidia-bluefield-3-32.39': accept(['dpu-arm-xdp', 'host-xdp-native']),
  };
}

const ddos = (pps = 500_000): PlacementModule => ({
  name: 'ddos-drop',
  version: '1.0.0',
  chainPosition: 0,
  traffic: { pps, meanPacketBytes: 128 },
  latencyBudgetUs: 20,
  prefer: 'auto',
  hostNsPerPacket: 13,
  costEstimated: false,
  instructions: 200,
  mapMemoryBytes: 1_000_000,
  verdicts: verdicts(),
});

const HOST: { deviceId: string; target: Target } = { deviceId: BF3.id, target: 'host-xdp-native' };
const DPU: { deviceId: string; target: Target } = { deviceId: BF3.id, target: 'dpu-arm-xdp' };

/**
 * The BlueField-3 with native XDP on its host PF (an mlx5 netdev) and no driver receive cost, so
 * the figures below are the program's own cost: host XDP on the PF behind the DPU, or the DPU's Arm.
 */
function bf3HostPf() {
  const d = catalogDevice(BF3.id, BF3.kind, BF3.profileId!, false, BF3.interfaces);
  return {
    ...d,
    flavours: d.flavours.map((f) => ({
      ...f,
      targets: [...f.targets, 'host-xdp-native' as Target],
      throughput: { ...f.throughput, rxNsPerPacket: 0, latencyUs: 5 },
    })),
  };
}

function machine(current = HOST): PlacementMachine {
  return {
    systemId: 'c1',
    hostname: 'core-c01',
    zone: 'zone-c',
    pool: 'core',
    tags: ['dpu-host'],
    hostCores: 64,
    hostCoreBudget: 4,
    devices: [catalogDevice(CX7.id, CX7.kind, CX7.profileId!, false), bf3HostPf()],
    // Traffic enters on the DPU's port: the DPU is on its path, the host netdev behind it.
    ports: [{ interface: BF3.interfaces[0] }],
    currentPlacement: { 'ddos-drop': current },
  };
}

const rule = (over: Partial<RebalanceRule> = {}): RebalanceRule =>
  rebalanceRuleSchema.parse({ selector: { zones: ['zone-c'] }, mode: 'auto', windows: 3, cooldownWindows: 10, ...over });

/**
 * Replays a traffic series window by window as the worker does: a committed move takes effect
 * at once, and the window after it has no rate for the module (its counters start afresh).
 */
function replay(series: number[], r: RebalanceRule) {
  let current = HOST;
  let state: MachineState | null = null;
  let fresh = false;
  const moves: CommittedMove[] = [];
  const verdicts: string[] = [];
  series.forEach((pps, window) => {
    const res = evaluateMachine({
      machine: machine(current),
      modules: [ddos()],
      observed: fresh ? {} : { 'ddos-drop': { pps, meanPacketBytes: 128 } },
      window,
    });
    fresh = false;
    const out = step({
      state,
      evaluation: res.ok ? res.evaluation : null,
      why: res.ok ? undefined : res.reason,
      rule: r,
      window,
      busy: false,
    });
    state = out.state;
    verdicts.push(out.verdict);
    if (out.draft) {
      for (const move of out.draft.moves) moves.push({ window, systemId: 'c1', move });
      state = holdModules(
        state,
        out.draft.moves.map((m) => m.module),
        window,
        r.cooldownWindows,
      );
      current = { deviceId: out.draft.moves[0].to.deviceId, target: out.draft.moves[0].to.target };
      fresh = true;
    }
  });
  return { moves, verdicts, current };
}

describe('evaluateMachine', () => {
  it('prices the current placement under observed traffic against the best one, with the specific move', () => {
    const res = evaluateMachine({
      machine: machine(),
      modules: [ddos()],
      observed: { 'ddos-drop': { pps: 25_000_000, meanPacketBytes: 128 } },
      window: 7,
    });
    if (!res.ok) throw new Error(res.reason);
    const e = res.evaluation;
    // Host native: 25 Mpps x 13 ns = 0.325 host cores; BlueField-3 Arm: 25 Mpps x 13 ns x 2.5 = 0.81 Arm cores at 0.25 hce each.
    expect(e.current.hostCores).toBeCloseTo(0.325, 6);
    expect(e.current.cost).toBeCloseTo(0.325 + 0.005, 6);
    expect(e.moves).toEqual([{ module: 'ddos-drop', from: HOST, to: { ...DPU, profileId: 'nvidia-bluefield-3-32.39' } }]);
    expect(e.best.hostCores).toBe(0);
    expect(e.gain).toBeGreaterThan(0.09);
    expect(e.gain).toBeCloseTo(e.current.cost - e.best.cost - e.riskHce, 9);
  });

  it('finds nothing to move at the traffic the placement was made for', () => {
    const res = evaluateMachine({
      machine: machine(),
      modules: [ddos()],
      observed: { 'ddos-drop': { pps: 500_000, meanPacketBytes: 128 } },
      window: 0,
    });
    expect(res.ok && res.evaluation.moves).toEqual([]);
  });

  it("reports a window without the module's rate as no evidence, naming the module", () => {
    expect(evaluateMachine({ machine: machine(), modules: [ddos()], observed: {}, window: 0 })).toEqual({
      ok: false,
      reason: 'no traffic observed this window for ddos-drop',
    });
  });

  it('flags a placement that cannot carry the traffic as overloaded', () => {
    const res = evaluateMachine({
      machine: machine(),
      modules: [ddos()],
      observed: { 'ddos-drop': { pps: 400_000_000, meanPacketBytes: 128 } },
      window: 0,
    });
    expect(res.ok && res.evaluation.current.overload).toMatch(/XDP needs \d+\.\d+ host cores, over the budget of 4/);
  });
});

describe('step: hysteresis, margin, cool-down', () => {
  it('moves ddos-drop to the DPU exactly `windows` windows into a surge, with its reasons', () => {
    const series = [...Array(5).fill(500_000), ...Array(10).fill(25_000_000)];
    const { moves, verdicts } = replay(series, rule());
    expect(verdicts.slice(4, 8)).toEqual(['no-move', 'building', 'building', 'propose']);
    expect(moves.map((m) => [m.window, m.move.module, m.move.to.deviceId, m.move.to.target])).toEqual([
      [7, 'ddos-drop', BF3.id, 'dpu-arm-xdp'],
    ]);
  });

  it('carries observed load, both costs, the gain and why now in the proposal', () => {
    let state: MachineState | null = null;
    let draft = null;
    for (let w = 0; w < 3; w++) {
      const res = evaluateMachine({
        machine: machine(),
        modules: [ddos()],
        observed: { 'ddos-drop': { pps: 25_000_000, meanPacketBytes: 128 } },
        window: 10 + w,
      });
      const out = step({ state, evaluation: res.ok ? res.evaluation : null, rule: rule({ mode: 'propose' }), window: 10 + w, busy: false });
      state = out.state;
      draft = out.draft;
    }
    expect(draft).not.toBeNull();
    const r = draft!.reasons;
    expect(draft!.mode).toBe('propose');
    expect(r.observed['ddos-drop']).toMatchObject({ pps: 25_000_000, declaredPps: 500_000 });
    expect(r.currentCost).toBeCloseTo(0.33, 6);
    expect(r.proposedCost).toBeLessThan(r.currentCost);
    expect(r.gain).toBeCloseTo(r.currentCost - r.proposedCost - 0.02, 9);
    expect(r.hostCores).toEqual({ current: expect.closeTo(0.325, 6), proposed: 0 });
    expect(r.windows).toEqual({ required: 3, held: 3, since: 10 });
    expect(r.whyNow).toMatch(/for 3 consecutive windows \(since window 10\)/);
    expect(r.summary[0]).toBe('ddos-drop now sees 25.0 Mpps (50x the 0.50 Mpps it was placed for)');
  });

  it('never proposes while the gain stays below the margin', () => {
    // 8 Mpps: the Arm cores are cheaper than host cores, but by about 12% after migration and reload risk.
    const { moves, verdicts } = replay(Array(20).fill(8_000_000), rule());
    expect(moves).toEqual([]);
    expect(new Set(verdicts)).toEqual(new Set(['below-margin']));
    // The same traffic with a zero margin and no floor moves after the hysteresis.
    expect(replay(Array(20).fill(8_000_000), rule({ margin: 0, minGainHce: 0 })).moves).toHaveLength(1);
  });

  it('does not flap on a load that oscillates faster than the hysteresis', () => {
    const series = Array.from({ length: 60 }, (_, w) => (Math.floor(w / 2) % 2 ? 25_000_000 : 500_000));
    const { moves } = replay(series, rule({ windows: 3 }));
    expect(moves).toEqual([]);
  });

  it('moves once on a slow oscillation and never back: the way back does not pay for its migration', () => {
    const series = Array.from({ length: 80 }, (_, w) => (Math.floor(w / 8) % 2 ? 25_000_000 : 500_000));
    const { moves, current } = replay(series, rule({ windows: 3, cooldownWindows: 10 }));
    expect(moves.map((m) => m.window)).toEqual([10]);
    expect(current).toEqual(DPU);
    expect(countFlaps(moves, 10)).toBe(0);
  });

  it('holds a module in its cool-down even when the gain has held long enough', () => {
    const r = rule({ windows: 2, cooldownWindows: 5 });
    const e = (w: number) => {
      const res = evaluateMachine({
        machine: machine(),
        modules: [ddos()],
        observed: { 'ddos-drop': { pps: 25_000_000, meanPacketBytes: 128 } },
        window: w,
      });
      if (!res.ok) throw new Error(res.reason);
      return res.evaluation;
    };
    let state: MachineState = holdModules(
      {
        systemId: 'c1',
        hostname: 'core-c01',
        streak: 0,
        streakSince: null,
        lastWindow: null,
        cooldownUntil: {},
        pending: null,
        lastVerdict: 'no-data',
        lastNote: '',
      },
      ['ddos-drop'],
      0,
      5,
    );
    const verdicts: string[] = [];
    for (let w = 1; w <= 6; w++) {
      const out = step({ state, evaluation: e(w), rule: r, window: w, busy: false });
      state = out.state;
      verdicts.push(out.verdict);
      if (out.verdict === 'cooldown') expect(out.note).toBe('ddos-drop may move again from window 5 (cool-down)');
    }
    expect(verdicts).toEqual(['building', 'cooldown', 'cooldown', 'cooldown', 'propose', 'building']);
  });

  it('proposes nothing while a proposal of the machine is open, and nothing when the rule is off', () => {
    const res = evaluateMachine({
      machine: machine(),
      modules: [ddos()],
      observed: { 'ddos-drop': { pps: 25_000_000, meanPacketBytes: 128 } },
      window: 3,
    });
    const e = res.ok ? res.evaluation : null;
    const s: MachineState = {
      systemId: 'c1',
      hostname: 'core-c01',
      streak: 5,
      streakSince: 0,
      lastWindow: 2,
      cooldownUntil: {},
      pending: 'rb-1-c1',
      lastVerdict: 'building',
      lastNote: '',
    };
    expect(step({ state: s, evaluation: e, rule: rule(), window: 3, busy: true })).toMatchObject({
      draft: null,
      verdict: 'busy',
      state: { streak: 0 },
    });
    expect(step({ state: s, evaluation: e, rule: rule({ mode: 'off' }), window: 3, busy: false })).toMatchObject({
      draft: null,
      verdict: 'off',
    });
    expect(step({ state: s, evaluation: e, rule: null, window: 3, busy: false })).toMatchObject({ draft: null, verdict: 'off' });
  });

  it('proposes at once for an overloaded placement, whatever the margin', () => {
    const res = evaluateMachine({
      machine: machine(),
      modules: [ddos()],
      observed: { 'ddos-drop': { pps: 400_000_000, meanPacketBytes: 128 } },
      window: 0,
    });
    if (!res.ok) throw new Error(res.reason);
    const out = step({
      state: null,
      evaluation: res.evaluation,
      rule: rule({ windows: 1, margin: 10, minGainHce: 100 }),
      window: 0,
      busy: false,
    });
    expect(out.verdict).toBe('propose');
    expect(out.draft!.reasons.whyNow).toMatch(/^the current placement cannot carry the traffic/);
  });
});

describe('countFlaps', () => {
  const mv = (window: number, from: typeof HOST, to: typeof HOST): CommittedMove => ({
    window,
    systemId: 'c1',
    move: { module: 'ddos-drop', from, to: { ...to, profileId: null } },
  });
  it('counts a move undone within the cool-down, not one undone later', () => {
    expect(countFlaps([mv(3, HOST, DPU), mv(6, DPU, HOST)], 10)).toBe(1);
    expect(countFlaps([mv(3, HOST, DPU), mv(20, DPU, HOST)], 10)).toBe(0);
  });
});

describe('windowRates', () => {
  const reading = (packets: number, at: number, cpuNs: number | null = null) => ({
    deviceId: CX7.id,
    port: 0,
    module: 'ddos-drop',
    packets,
    bytes: packets * 128,
    drops: 0,
    cpuNs,
    at,
  });
  it('turns cumulative counters into rates per module and device', () => {
    const w = windowRates(
      { systemId: 'c1', readings: [reading(1_000, 0, 0)], errors: [] },
      { systemId: 'c1', readings: [reading(2_001_000, 2_000, 26_000_000)], errors: [] },
      { window: 4, hostname: 'core-c01', at: 'now' },
    );
    expect(w.modules['ddos-drop']).toEqual({
      pps: 1_000_000,
      bytesPerSecond: 128_000_000,
      dropsPerSecond: 0,
      meanPacketBytes: 128,
      deviceIds: [CX7.id],
      hostCores: 0.013,
    });
    expect(w.hostXdpCores).toBeCloseTo(0.013, 9);
  });
  it('gives no rate for a counter that is new or went backwards (a reload)', () => {
    const w = windowRates(
      { systemId: 'c1', readings: [reading(5_000, 0)], errors: [] },
      { systemId: 'c1', readings: [reading(10, 1_000), { ...reading(10, 1_000), deviceId: BF3.id }], errors: [] },
      { window: 1, hostname: 'h', at: 'now' },
    );
    expect(w.modules).toEqual({});
  });
});

describe('policy', () => {
  it('takes the first rule whose selector matches; none means off', () => {
    const p = rebalancePolicySchema.parse({
      rules: [
        { selector: { hostnames: ['core-c03'] }, mode: 'propose' },
        { selector: { zones: ['zone-c'] }, mode: 'auto' },
      ],
    });
    const m = (hostname: string, zone: string) => ({ hostname, zone, pool: 'core', tags: [] });
    expect(ruleFor(p, m('core-c03', 'zone-c'))?.mode).toBe('propose');
    expect(ruleFor(p, m('core-c01', 'zone-c'))?.mode).toBe('auto');
    expect(ruleFor(p, m('edge-a01', 'zone-a'))).toBeNull();
    expect(p.rules[0]).toMatchObject({ margin: 0.2, minGainHce: 0.05, windows: 3, cooldownWindows: 30 });
  });
  it('names the offending field', () => {
    const r = rebalancePolicySchema.safeParse({ rules: [{ selector: {}, mode: 'sometimes' }] });
    expect(r.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['rules.0.mode', 'must be off, propose or auto']]);
  });
  it('replaces the rule of the same selector', () => {
    const a = rule({ selector: { zones: ['zone-c'] }, mode: 'auto' });
    const p = upsertRule(upsertRule({ rules: [a] }, rule({ selector: { hostnames: ['x'] } })), { ...a, mode: 'off' });
    expect(p.rules.map((r) => r.mode)).toEqual(['off', 'auto']);
  });
});
