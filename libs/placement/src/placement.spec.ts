import type { Target } from '@ioplane/domain';
import { catalogDevice } from './placement.generator';
import { planMachine } from './machine.solver';
import { loadHighs } from './milp.solver';
import { machinePlan, planFleet } from './fleet.planner';
import { validatePlan } from './plan.validate';
import { PlacementMachine, PlacementModule, PlacementVerdict } from './placement.model';

const ALL: Record<string, Target[]> = {
  'host-kernel': ['host-xdp-native', 'host-xdp-generic'],
  'intel-x710-9.20': ['host-xdp-native'],
  'intel-e810-4.20': ['host-xdp-native'],
  'mellanox-connectx-6dx-22.39': ['host-xdp-native', 'nic-flow-offload'],
  'netronome-agilio-cx-bpf-2.1': ['nic-xdp-offload'],
  'netronome-agilio-cx-nic-2.1': ['host-xdp-native'],
  'netronome-agilio-cx-flower-2.1': ['nic-flow-offload'],
  'nvidia-bluefield-2-24.35': ['dpu-arm-xdp', 'dpu-flow-offload'],
};

function verdicts(refuse: Partial<Record<string, Target[]>> = {}): Record<string, PlacementVerdict> {
  return Object.fromEntries(Object.entries(ALL).map(([id, ts]) => {
    const no = refuse[id] ?? [];
    return [id, {
      acceptedTargets: ts.filter((t) => !no.includes(t)),
      reasons: no.map((t) => ({ code: 'helper', message: 'helper bpf_redirect (23) not allowed by the profile', target: t })),
    }];
  }));
}

function mod(name: string, chainPosition: number, over: Partial<PlacementModule> = {}): PlacementModule {
  return {
    name, version: '1.0.0', chainPosition, traffic: { pps: 5_000_000, meanPacketBytes: 256 }, latencyBudgetUs: 10, prefer: 'auto',
    hostNsPerPacket: 60, costEstimated: false, instructions: 300, mapMemoryBytes: 1_000_000, verdicts: verdicts(), ...over,
  };
}

function machine(sys: string, devices: [string, 'nic' | 'smartnic' | 'dpu', string][], over: Partial<PlacementMachine> = {}): PlacementMachine {
  return {
    systemId: sys, hostname: `host-${sys}`, zone: 'zone-a', pool: 'edge', tags: [], hostCores: 64, hostCoreBudget: 8,
    devices: [{ id: `${sys}/cpu`, kind: 'host-cpu', flavours: [] }, ...devices.map(([name, kind, pid]) => catalogDevice(`${sys}/${name}`, kind, pid, false))],
    currentPlacement: {}, ...over,
  };
}

const agilioHost = () => machine('a1', [['nfp0', 'smartnic', 'netronome-agilio-cx-bpf-2.1'], ['eth0', 'nic', 'intel-x710-9.20']]);

describe('feasibility', () => {
  it('offloads a small program to the Agilio instead of spending host cores', () => {
    const m = agilioHost();
    const mods = [mod('ddos', 0)];
    const plan = planMachine(m, mods);
    expect(plan.feasible).toBe(true);
    expect(plan.placements.ddos).toMatchObject({ deviceId: 'a1/nfp0', target: 'nic-xdp-offload' });
    expect(plan.placements.ddos.costBreakdown.hostCores).toBe(0);
    expect(validatePlan(m, mods, plan)).toEqual([]);
  });

  it('refuses the NIC when the program is too big for its packet budget at this traffic, and says so', () => {
    const m = agilioHost();
    // 1,000 insns at 0.056 ns + 13.4 ns base = 69 ns/packet: about 14.5 Mpps, below 20 Mpps.
    const plan = planMachine(m, [mod('big', 0, { instructions: 1000, traffic: { pps: 20_000_000, meanPacketBytes: 64 } })]);
    expect(plan.placements.big.target).toBe('host-xdp-native');
    const nic = plan.placements.big.rejected.find((r) => r.target === 'nic-xdp-offload')!;
    expect(nic.code).toBe('throughput');
    expect(nic.message).toMatch(/sustains 14\.\d+ Mpps for 1000 insns, below 20\.00 Mpps/);
  });

  it('reports a module no target accepts as infeasible with the blocking constraint, placing nothing', () => {
    const m = machine('b1', [['eth0', 'nic', 'intel-x710-9.20']]);
    const mods = [mod('ok', 0), mod('tight', 1, { latencyBudgetUs: 3 })];
    const plan = planMachine(m, mods);
    expect(plan.feasible).toBe(false);
    expect(plan.placements).toEqual({});
    expect(plan.infeasible).toEqual([{ module: 'tight', constraint: 'latency', message: expect.stringContaining('over the 3 us budget') }]);
    expect(validatePlan(m, mods, plan)).toEqual([]);
  });

  it('honours a host-core budget and names it when nothing else is left', () => {
    const m = machine('b2', [['eth0', 'nic', 'intel-x710-9.20']], { hostCoreBudget: 0.5 });
    const mods = [mod('a', 0), mod('b', 1)]; // 0.3 cores each on the host
    const plan = planMachine(m, mods);
    expect(plan.feasible).toBe(false);
    expect(plan.infeasible.map((x) => x.constraint)).toEqual(['hostCores', 'hostCores']);
  });
});

describe('chains', () => {
  it('a module forced onto the host pulls every later module onto the host', () => {
    const m = agilioHost();
    const mods = [
      mod('first', 0, { verdicts: verdicts({ 'netronome-agilio-cx-bpf-2.1': ['nic-xdp-offload'] }) }),
      mod('second', 1),
    ];
    const plan = planMachine(m, mods);
    expect(plan.placements.first.target).toBe('host-xdp-native');
    expect(plan.placements.second.target).toBe('host-xdp-native');
    const refused = plan.placements.second.rejected.find((r) => r.target === 'nic-xdp-offload')!;
    expect(refused.code).toBe('chain_order');
    expect(refused.message).toContain('earlier module first runs on the host');
    expect(validatePlan(m, mods, plan)).toEqual([]);
  });

  it('reports chain order as the blocker when each module fits only in the wrong order', () => {
    const m = agilioHost();
    const hostOnly = verdicts({ 'netronome-agilio-cx-bpf-2.1': ['nic-xdp-offload'] });
    const nicOnly = verdicts({ 'host-kernel': ['host-xdp-native', 'host-xdp-generic'], 'intel-x710-9.20': ['host-xdp-native'] });
    const plan = planMachine(m, [mod('early', 0, { verdicts: hostOnly }), mod('late', 1, { verdicts: nicOnly })]);
    expect(plan.feasible).toBe(false);
    expect(plan.infeasible[0].constraint).toBe('chain_order');
  });
});

describe('slots and shared capacity', () => {
  it('two offload-friendly modules share one Agilio port pair: 2 slots, the third goes to the host', () => {
    const m = agilioHost();
    const mods = [mod('a', 0, { traffic: { pps: 2e6, meanPacketBytes: 64 } }), mod('b', 1, { traffic: { pps: 2e6, meanPacketBytes: 64 } }), mod('c', 2, { traffic: { pps: 2e6, meanPacketBytes: 64 } })];
    const plan = planMachine(m, mods);
    const targets = mods.map((x) => plan.placements[x.name].target);
    expect(targets).toEqual(['nic-xdp-offload', 'nic-xdp-offload', 'host-xdp-native']);
    const refused = plan.placements.c.rejected.find((r) => r.target === 'nic-xdp-offload')!;
    expect(refused).toMatchObject({ code: 'capacity', message: expect.stringContaining('slots on a1/nfp0') });
    expect(validatePlan(m, mods, plan)).toEqual([]);
  });

  it('instruction store is shared: two 600-insn programs do not fit 1,120', () => {
    const m = agilioHost();
    const mods = [mod('a', 0, { instructions: 600, traffic: { pps: 1e6, meanPacketBytes: 64 } }), mod('b', 1, { instructions: 600, traffic: { pps: 1e6, meanPacketBytes: 64 } })];
    const plan = planMachine(m, mods);
    expect(plan.placements.a.target).toBe('nic-xdp-offload');
    expect(plan.placements.b.target).toBe('host-xdp-native');
    expect(plan.placements.b.rejected.find((r) => r.target === 'nic-xdp-offload')!.message).toContain('instructions on a1/nfp0');
  });
});

describe('plan validation', () => {
  it('catches a plan that overfills slots, breaks chain order or uses a refused target', () => {
    const m = agilioHost();
    const hostOnly = verdicts({ 'netronome-agilio-cx-bpf-2.1': ['nic-xdp-offload'] });
    const mods = [mod('a', 0), mod('b', 1), mod('c', 2, { verdicts: hostOnly })];
    const plan = planMachine(m, mods);
    expect(validatePlan(m, mods, plan)).toEqual([]);
    const onNic = { ...plan.placements.a, deviceId: 'a1/nfp0', target: 'nic-xdp-offload' as const };
    const broken = { ...plan, placements: { a: { ...plan.placements.a, target: 'host-xdp-native' as const, deviceId: 'a1/eth0' }, b: { ...onNic, module: 'b' }, c: { ...onNic, module: 'c' } } };
    expect(validatePlan(m, mods, broken).map((v) => v.constraint).sort()).toEqual(['chain_order', 'chain_order', 'verifier']);
    const crowded = { ...plan, placements: { a: { ...onNic, module: 'a' }, b: { ...onNic, module: 'b' }, c: { ...onNic, module: 'c' } } };
    expect(validatePlan(m, mods, crowded).map((v) => v.constraint).sort()).toEqual(['slots', 'verifier']);
  });
});

describe('explanations', () => {
  it('explains why the cheapest-looking target (DPU Arm) is refused: latency over budget', () => {
    const m = machine('c1', [['eth0', 'smartnic', 'mellanox-connectx-6dx-22.39'], ['dpu0', 'dpu', 'nvidia-bluefield-2-24.35']]);
    const v = verdicts({ 'mellanox-connectx-6dx-22.39': ['nic-flow-offload'], 'nvidia-bluefield-2-24.35': ['dpu-flow-offload'] });
    const plan = planMachine(m, [mod('ddos', 0, { latencyBudgetUs: 5, prefer: 'dpu', verdicts: v })]);
    const p = plan.placements.ddos;
    expect(p.target).toBe('host-xdp-native');
    expect(p.rejected).toEqual(expect.arrayContaining([
      expect.objectContaining({ deviceId: 'c1/dpu0', target: 'dpu-arm-xdp', code: 'latency', message: 'adds 10 us, over the 5 us budget' }),
      expect.objectContaining({ deviceId: 'c1/dpu0', target: 'dpu-flow-offload', code: 'verifier', message: expect.stringContaining('helper bpf_redirect') }),
      expect.objectContaining({ deviceId: 'c1/cpu', target: 'host-xdp-generic', code: 'latency', message: 'adds 7 us, over the 5 us budget' }),
    ]));
    expect(p.reasons.join('\n')).toMatch(/off the preferred dpu tier/);
    expect(p.reasons.join('\n')).toMatch(/offload dpu-arm-xdp on c1\/dpu0 refused \(latency\)/);
  });

  it('every non-chosen (device, target) carries a reason and a cost delta when it is only dearer', () => {
    const m = machine('c2', [['eth0', 'smartnic', 'mellanox-connectx-6dx-22.39'], ['dpu0', 'dpu', 'nvidia-bluefield-2-24.35']]);
    const plan = planMachine(m, [mod('x', 0, { costEstimated: true })]);
    const p = plan.placements.x;
    const offered = 1 + 2 + 2; // generic on cpu; native + flow on ConnectX; arm + flow on BlueField
    expect(p.rejected).toHaveLength(offered - 1);
    for (const r of p.rejected.filter((x) => x.code === 'cost')) expect(r.costDelta).toBeGreaterThan(0);
    expect(p.reasons).toContain('host ns/packet is an estimate, not a measurement');
  });

  it('keeps a module where it runs when moving would only save less than the swap costs', () => {
    const m = machine('c3', [['eth0', 'nic', 'intel-e810-4.20']], { currentPlacement: { x: { deviceId: 'c3/eth0', target: 'host-xdp-native' } } });
    const plan = planMachine(m, [mod('x', 0)]);
    expect(plan.placements.x.reasons).toContain('already running here: no migration');
    expect(plan.placements.x.costBreakdown.migrationSeconds).toBe(0);
  });
});

describe('firmware flavours', () => {
  it('flashes an Agilio from flower to bpf when the saving outweighs the switch, and reports the switch', () => {
    const m = machine('d1', [['eth0', 'nic', 'intel-x710-9.20']]);
    m.devices.push(catalogDevice('d1/nfp0', 'smartnic', 'netronome-agilio-cx-flower-2.1'));
    const flowRefused = verdicts({ 'netronome-agilio-cx-flower-2.1': ['nic-flow-offload'] });
    const plan = planMachine(m, [mod('lb', 0, { traffic: { pps: 10e6, meanPacketBytes: 64 }, verdicts: flowRefused })]);
    expect(plan.placements.lb).toMatchObject({ deviceId: 'd1/nfp0', target: 'nic-xdp-offload', profileId: 'netronome-agilio-cx-bpf-2.1' });
    expect(plan.flavourSwitches).toEqual({ 'd1/nfp0': 'netronome-agilio-cx-bpf-2.1' });
    expect(validatePlan(m, [mod('lb', 0, { verdicts: flowRefused })], plan)).toEqual([]);
  });
});

describe('fleet', () => {
  const fleet = (n: number) => Array.from({ length: n }, (_, i) => {
    const m = agilioHost();
    const sys = `f${i}`;
    return { ...m, systemId: sys, hostname: `edge-${String(i).padStart(2, '0')}`, zone: ['zone-a', 'zone-b', 'zone-c'][i % 3],
      devices: m.devices.map((d) => ({ ...d, id: d.id.replace('a1/', `${sys}/`) })), tags: i % 2 ? ['lb'] : [] };
  });

  it('solves identical machines once and gives each its own device ids', () => {
    const machines = fleet(30);
    const plan = planFleet(machines, [mod('ddos', 0), mod('acl', 1)]);
    expect(plan.stats).toMatchObject({ machines: 30, classes: 1, solves: 1, infeasibleMachines: 0 });
    expect(plan.complete).toBe(true);
    expect(machinePlan(plan, 7).placements.ddos.deviceId).toBe('f7/nfp0');
  });

  it('keeps machines apart that differ in budget, current placement, firmware or traffic bucket, and plans each as if alone', () => {
    const base = fleet(6);
    const machines = [
      base[0],
      { ...base[1] },
      { ...base[2], hostCoreBudget: 0.05 },
      { ...base[3], currentPlacement: { ddos: { deviceId: 'f3/eth0', target: 'host-xdp-native' as Target } } },
      { ...base[4], devices: [base[4].devices[0], base[4].devices[2]] },
      { ...base[5], traffic: { ddos: { pps: 12e6, meanPacketBytes: 256 } } },
    ];
    const mods = [mod('ddos', 0), mod('acl', 1)];
    const plan = planFleet(machines, mods);
    expect(plan.stats).toMatchObject({ machines: 6, classes: 5, solves: 5 });
    expect(plan.classOf[0]).toBe(plan.classOf[1]);
    machines.forEach((m, i) => {
      const p = machinePlan(plan, i);
      expect(validatePlan(m, mods, p)).toEqual([]);
      if (i !== 5) expect(p.placements).toEqual(planMachine(m, mods).placements);
    });
  });

  it('machines that differ only in what they run now get the same diagnosis when none can be planned, and full messages', () => {
    const base = fleet(3);
    const hostOnly = verdicts({ 'netronome-agilio-cx-bpf-2.1': ['nic-xdp-offload'] });
    const nicOnly = verdicts({ 'host-kernel': ['host-xdp-native', 'host-xdp-generic'], 'intel-x710-9.20': ['host-xdp-native'] });
    const blocked = [mod('early', 0, { verdicts: hostOnly }), mod('late', 1, { verdicts: nicOnly })];
    const machines = [base[0], { ...base[1], currentPlacement: { early: { deviceId: 'f1/eth0', target: 'host-xdp-native' as Target } } }];
    const plan = planFleet(machines, blocked);
    expect(plan.stats).toMatchObject({ classes: 2, infeasibleMachines: 2 });
    machines.forEach((m, i) => {
      const p = machinePlan(plan, i);
      expect(p.infeasible[0].constraint).toBe('chain_order');
      expect(p).toEqual(planMachine(m, blocked));
    });
    // Explanations written on first read still serialise and spread with every message.
    const mods = [mod('ddos', 0), mod('acl', 1)];
    const ok = planFleet(base, mods);
    const first = machinePlan(ok, 0);
    const copy = JSON.parse(JSON.stringify(ok.classes[0].solution.decisions ?? [])) as { rejected: { message: string }[] }[];
    expect(copy.flatMap((d) => d.rejected).every((r) => typeof r.message === 'string' && r.message.length > 0)).toBe(true);
    expect(first).toEqual(planMachine(base[0], mods));
  });

  it.each([['greedy', false], ['MILP', true]])('spreads a fleet-scoped LB over the selector with at most K per zone (%s)', async (_, useMilp) => {
    const machines = fleet(12);
    const lb = mod('l4-lb', 5, { scope: { replicas: 4, totalPps: 8e6, selector: { tags: ['lb'] }, maxPerZone: 2 } });
    const plan = planFleet(machines, [mod('ddos', 0), lb], useMilp ? { highs: await loadHighs() } : {});
    const s = plan.scoped[0];
    expect(s).toMatchObject({ module: 'l4-lb', requested: 4, perReplicaPps: 2e6, feasible: true, solver: useMilp ? 'milp' : 'heuristic' });
    expect(s.replicas).toHaveLength(4);
    const perZone = new Map<string, number>();
    for (const r of s.replicas) perZone.set(r.zone, (perZone.get(r.zone) ?? 0) + 1);
    expect(Math.max(...perZone.values())).toBeLessThanOrEqual(2);
    for (const r of s.replicas) expect(machines.find((m) => m.systemId === r.systemId)!.tags).toContain('lb');
    const chosen = new Set(s.replicas.map((r) => r.systemId));
    machines.forEach((m, i) => {
      const p = machinePlan(plan, i);
      expect(Boolean(p.placements['l4-lb'])).toBe(chosen.has(m.systemId));
      expect(validatePlan(m, chosen.has(m.systemId) ? [mod('ddos', 0), { ...lb, traffic: { ...lb.traffic, pps: 2e6 } }] : [mod('ddos', 0)], p)).toEqual([]);
    });
  });

  it('refuses a zone spread that cannot be met, placing no replica', () => {
    const lb = mod('l4-lb', 5, { scope: { replicas: 5, selector: { tags: ['lb'] }, maxPerZone: 1 } });
    const plan = planFleet(fleet(12), [lb]);
    expect(plan.scoped[0]).toMatchObject({ feasible: false, constraint: 'maxPerZone', replicas: [] });
    expect(plan.complete).toBe(false);
  });
});
