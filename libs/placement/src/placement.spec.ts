import type { Target } from '@ioplane/domain';
import { catalogDevice } from './placement.generator';
import { planMachine } from './plan.materialise';
import { loadHighs } from './milp.solver';
import { machinePlan, planFleet } from './fleet.planner';
import { validatePlan } from './plan.validate';
import { Hop, MachinePlan, PlacementDevice, PlacementMachine, PlacementModule, PlacementVerdict } from './placement.model';

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
  return Object.fromEntries(
    Object.entries(ALL).map(([id, ts]) => {
      const no = refuse[id] ?? [];
      return [
        id,
        {
          acceptedTargets: ts.filter((t) => !no.includes(t)),
          reasons: no.map((t) => ({ code: 'helper', message: 'helper bpf_redirect (23) not allowed by the profile', target: t })),
        },
      ];
    }),
  );
}

function mod(name: string, chainPosition: number, over: Partial<PlacementModule> = {}): PlacementModule {
  return {
    name,
    version: '1.0.0',
    chainPosition,
    traffic: { pps: 2_000_000, meanPacketBytes: 256 },
    latencyBudgetUs: 10,
    prefer: 'auto',
    hostNsPerPacket: 60,
    costEstimated: false,
    instructions: 300,
    mapMemoryBytes: 1_000_000,
    verdicts: verdicts(),
    ...over,
  };
}

function machine(sys: string, devices: PlacementDevice[], ingress: string[], over: Partial<PlacementMachine> = {}): PlacementMachine {
  return {
    systemId: sys,
    hostname: `host-${sys}`,
    zone: 'zone-a',
    pool: 'edge',
    tags: [],
    hostCores: 64,
    hostCoreBudget: 8,
    devices,
    ports: ingress.map((i) => ({ interface: i })),
    currentPlacement: {},
    ...over,
  };
}

const agilio = (sys: string) => catalogDevice(`${sys}/ens1f0`, 'smartnic', 'netronome-agilio-cx-bpf-2.1', false, ['ens1f0', 'ens1f1']);
const x710 = (sys: string) => catalogDevice(`${sys}/ens2f0`, 'nic', 'intel-x710-9.20', false, ['ens2f0', 'ens2f1']);
const bf2 = (sys: string) => catalogDevice(`${sys}/ens3f0np0`, 'dpu', 'nvidia-bluefield-2-24.35', false, ['ens3f0np0', 'ens3f1np1']);
const hops = (plan: MachinePlan, iface: string) =>
  plan.paths.find((p) => p.ingress.interface === iface)!.hops.map((h) => `${h.module}@${h.hook}:${h.interface}`);

describe('paths per ingress port', () => {
  it('keeps the whole chain on the port traffic enters: nfp offload for the first module, generic XDP on the same netdev after it', () => {
    const m = machine('a1', [agilio('a1'), x710('a1')], ['ens1f0']);
    const mods = [mod('acl', 0), mod('lb', 1)];
    const plan = planMachine(m, mods);
    expect(plan.feasible).toBe(true);
    // The x710 has native XDP and spare cores, but packets entering ens1f0 never cross it.
    expect(hops(plan, 'ens1f0')).toEqual(['acl@nic-xdp-offload:ens1f0', 'lb@xdp-generic:ens1f0']);
    expect(plan.paths[0].hops.every((h) => h.deviceId === 'a1/ens1f0' && h.port === 0)).toBe(true);
    expect(plan.paths[0].hops.map((h) => h.position)).toEqual([3, 5]);
    expect(validatePlan(m, mods, plan)).toEqual([]);
  });

  it('a machine with two uplinks carries the chain on each, each path complete on its port', () => {
    const m = machine('a2', [x710('a2')], ['ens2f0', 'ens2f1']);
    const mods = [mod('acl', 0), mod('lb', 1), mod('ddos', 2)];
    const plan = planMachine(m, mods);
    expect(plan.paths.map((p) => p.ingress.interface)).toEqual(['ens2f0', 'ens2f1']);
    expect(hops(plan, 'ens2f1')).toEqual(['acl@xdp-native:ens2f1', 'lb@xdp-native:ens2f1', 'ddos@xdp-native:ens2f1']);
    expect(validatePlan(m, mods, plan)).toEqual([]);
  });

  it('a port nothing enters gets no chain', () => {
    const m = machine('a3', [x710('a3')], ['ens2f0', 'ens2f1']);
    m.ports[1].traffic = { pps: 0, meanPacketBytes: 64 };
    const plan = planMachine(m, [mod('acl', 0)]);
    expect(plan.paths.map((p) => p.ingress.interface)).toEqual(['ens2f0']);
  });

  it('puts the DPU first: its eSwitch rules, then its Arm XDP on the uplink p<k>, then the host netdev', () => {
    const m = machine('d1', [bf2('d1')], ['ens3f1np1'], { hostCoreBudget: 0.05 });
    const lbOnArm = verdicts({ 'nvidia-bluefield-2-24.35': ['dpu-flow-offload'] });
    const mods = [mod('acl', 0, { flowRules: 100 }), mod('lb', 1, { verdicts: lbOnArm, latencyBudgetUs: 20 })];
    const plan = planMachine(m, mods);
    expect(hops(plan, 'ens3f1np1')).toEqual(['acl@dpu-flow:p1', 'lb@dpu-xdp:p1']);
    expect(plan.paths[0].hops.map((h) => h.port)).toEqual([1, 1]);
    expect(validatePlan(m, mods, plan)).toEqual([]);
  });

  it('reports hook order as the blocker when a host-only module comes before a DPU-only one', () => {
    const m = machine('d2', [bf2('d2')], ['ens3f0np0']);
    const hostOnly = verdicts({ 'nvidia-bluefield-2-24.35': ['dpu-arm-xdp', 'dpu-flow-offload'] });
    const dpuOnly = verdicts({ 'host-kernel': ['host-xdp-native', 'host-xdp-generic'] });
    const plan = planMachine(m, [mod('early', 0, { verdicts: hostOnly }), mod('late', 1, { verdicts: dpuOnly, latencyBudgetUs: 20 })]);
    expect(plan.feasible).toBe(false);
    expect(plan.infeasible[0].constraint).toBe('chain_order');
    expect(plan.paths).toEqual([]);
  });
});

describe('several modules on one hook', () => {
  it('fills a hook up to the slots the agent reports; native and generic never share the netdev', () => {
    const m = machine('s1', [x710('s1')], ['ens2f0'], { hookSlots: { 's1/ens2f0': { 'xdp-native': 2 }, host: { 'xdp-generic': 2 } } });
    const mods = [mod('a', 0), mod('b', 1), mod('c', 2)];
    const plan = planMachine(m, mods);
    // Two native slots, two generic ones, and generic cannot join native on ens2f0: no place for three.
    expect(plan.feasible).toBe(false);
    expect(plan.infeasible[0].constraint).toMatch(/slots|chain_order/);
    const roomy = planMachine({ ...m, hookSlots: { 's1/ens2f0': { 'xdp-native': 3 } } }, mods);
    expect(hops(roomy, 'ens2f0')).toEqual(['a@xdp-native:ens2f0', 'b@xdp-native:ens2f0', 'c@xdp-native:ens2f0']);
    expect(validatePlan(roomy.feasible ? { ...m, hookSlots: { 's1/ens2f0': { 'xdp-native': 3 } } } : m, mods, roomy)).toEqual([]);
  });

  it('explain names the rule behind each refused position: slots, exclusivity, profile limit', () => {
    const m = machine('s2', [x710('s2')], ['ens2f0'], { hookSlots: { 's2/ens2f0': { 'xdp-native': 1 } } });
    const plan = planMachine(m, [mod('a', 0), mod('b', 1)]);
    expect(hops(plan, 'ens2f0')).toEqual(['a@xdp-generic:ens2f0', 'b@xdp-generic:ens2f0']);
    // a cannot take native beside b's generic hook; b cannot take native (it would leave a behind on generic).
    expect(plan.paths[0].hops[0].rejected.find((r) => r.hook === 'xdp-native')).toMatchObject({ rule: 'exclusivity' });
    const solo = planMachine({ ...m, ports: [{ interface: 'ens2f0' }] }, [mod('a', 0), mod('b', 1, { pin: 'host-xdp-native' })]);
    expect(solo.feasible).toBe(false);
    const one = planMachine(machine('s3', [x710('s3')], ['ens2f0']), [mod('only', 0, { latencyBudgetUs: 6 })]).paths[0].hops[0];
    expect(one.rejected.find((r) => r.hook === 'xdp-generic')).toMatchObject({ rule: 'profile_limit', code: 'latency' });
  });

  it('refuses generic next to a native module on the same port by the exclusivity rule', () => {
    const m = machine('s4', [x710('s4')], ['ens2f0'], { hostCoreBudget: 8 });
    const plan = planMachine(m, [mod('a', 0), mod('b', 1)]);
    expect(hops(plan, 'ens2f0')).toEqual(['a@xdp-native:ens2f0', 'b@xdp-native:ens2f0']);
    expect(plan.paths[0].hops[1].rejected.find((r) => r.hook === 'xdp-generic')).toMatchObject({ rule: 'exclusivity' });
  });

  it("with an agent that loads one chain per device port, a port's modules on the card's hardware share one hook", () => {
    const m = machine('o2', [bf2('o2')], ['ens3f1np1'], { hostCoreBudget: 0.05 });
    const mods = [
      mod('acl', 0, { flowRules: 100 }),
      mod('lb', 1, { verdicts: verdicts({ 'nvidia-bluefield-2-24.35': ['dpu-flow-offload'] }), latencyBudgetUs: 20 }),
    ];
    const free = planMachine({ ...m, systemId: 'o1' }, mods);
    expect(hops(free, 'ens3f1np1')).toEqual(['acl@dpu-flow:p1', 'lb@dpu-xdp:p1']);
    const one = planMachine({ ...m, oneChainPerPort: true }, mods);
    expect(hops(one, 'ens3f1np1')).toEqual(['acl@dpu-xdp:p1', 'lb@dpu-xdp:p1']);
    expect(one.paths[0].hops[0].rejected.find((r) => r.hook === 'dpu-flow')).toMatchObject({
      rule: 'exclusivity',
      message: expect.stringContaining('one chain per device port'),
    });
    expect(validatePlan({ ...m, oneChainPerPort: true }, mods, free).map((v) => v.constraint)).toEqual(['exclusivity']);
  });

  it("driver XDP is the host kernel's chain, apart from the card's: flow rules on a ConnectX port and native XDP behind them", () => {
    const cx6 = (sys: string) => catalogDevice(`${sys}/ens1f0`, 'smartnic', 'mellanox-connectx-6dx-22.39', false, ['ens1f0', 'ens1f1']);
    const mods = [
      mod('acl', 0, { flowRules: 100 }),
      mod('lb', 1, { verdicts: verdicts({ 'mellanox-connectx-6dx-22.39': ['nic-flow-offload'] }) }),
    ];
    const m = machine('o3', [cx6('o3')], ['ens1f0'], { oneChainPerPort: true });
    const plan = planMachine(m, mods);
    expect(hops(plan, 'ens1f0')).toEqual(['acl@nic-flow:ens1f0', 'lb@xdp-native:ens1f0']);
    expect(validatePlan(m, mods, plan)).toEqual([]);
  });

  it('the nfp offload hook holds one program: the second offloadable module goes to the host netdev', () => {
    const m = machine('s5', [agilio('s5')], ['ens1f0']);
    const plan = planMachine(m, [mod('a', 0), mod('b', 1)]);
    expect(hops(plan, 'ens1f0')).toEqual(['a@nic-xdp-offload:ens1f0', 'b@xdp-generic:ens1f0']);
    expect(plan.paths[0].hops[1].rejected.find((r) => r.hook === 'nic-xdp-offload')).toMatchObject({ rule: 'slots' });
  });
});

describe('rates and cost', () => {
  it('a later module sees what the earlier one passed, never more than entered', () => {
    const m = machine('r1', [x710('r1')], ['ens2f0']);
    m.ports[0].traffic = { pps: 4_000_000, meanPacketBytes: 128 };
    const plan = planMachine(m, [mod('ddos', 0, { passRatio: 0.5 }), mod('lb', 1, { traffic: { pps: 9e6, meanPacketBytes: 400 } })]);
    expect(plan.paths[0].ingress.pps).toBe(4e6);
    expect(plan.paths[0].hops.map((h) => h.pps)).toEqual([4e6, 2e6]);
  });

  it('generic XDP costs the skb per packet from the profile, and host hooks the driver receive cost, not a multiple of native', () => {
    const withCosts = (sys: string) => {
      const d = x710(sys);
      d.flavours = d.flavours.map((f) => ({ ...f, throughput: { ...f.throughput, rxNsPerPacket: 30, skbNsPerPacket: 90 } }));
      return d;
    };
    const one = [mod('x', 0, { hostNsPerPacket: 40, traffic: { pps: 1e6, meanPacketBytes: 64 } })];
    const native = planMachine(machine('c1', [withCosts('c1')], ['ens2f0']), one).paths[0].hops[0];
    expect(native.hook).toBe('xdp-native');
    // The chain's last host hop pays the receive cost of every packet it sees: (40 + 30) ns at 1 Mpps.
    expect(native.costBreakdown.hostCores).toBeCloseTo(0.07, 9);
    const generic = planMachine(machine('c2', [withCosts('c2')], ['ens2f0']), [{ ...one[0], pin: 'host-xdp-generic' as Target }]).paths[0]
      .hops[0];
    expect(generic.costBreakdown.hostCores).toBeCloseTo(0.16, 9);
  });
});

describe('the validator on hand-written violating plans', () => {
  const m = machine('v1', [agilio('v1'), x710('v1')], ['ens2f0'], { hookSlots: { 'v1/ens2f0': { 'xdp-native': 2 } } });
  const mods = [mod('a', 0), mod('b', 1)];
  const good = planMachine(m, mods);
  const hop = (module: string, over: Partial<Hop>): Hop => ({ ...good.paths[0].hops[0], module, ...over });
  const native = (module: string) =>
    hop(module, { target: 'host-xdp-native', hook: 'xdp-native', position: 4, deviceId: 'v1/ens2f0', interface: 'ens2f0', port: 0 });
  const generic = (module: string) =>
    hop(module, { target: 'host-xdp-generic', hook: 'xdp-generic', position: 5, deviceId: 'v1/ens2f0', interface: 'ens2f0', port: 0 });
  const withHops = (...hs: Hop[]): MachinePlan => ({ ...good, paths: [{ ...good.paths[0], hops: hs }] });
  const rules = (p: MachinePlan) => [...new Set(validatePlan(m, mods, p).map((v) => v.constraint))].sort();

  it("accepts the solver's plan", () => {
    expect(hops(good, 'ens2f0')).toEqual(['a@xdp-native:ens2f0', 'b@xdp-native:ens2f0']);
    expect(validatePlan(m, mods, good)).toEqual([]);
  });

  it("split chain: a module missing from the port, or run on another port's card", () => {
    expect(rules(withHops(native('a')))).toEqual(['split_chain']);
    const offPath = hop('b', {
      target: 'nic-xdp-offload',
      hook: 'nic-xdp-offload',
      position: 3,
      deviceId: 'v1/ens1f0',
      interface: 'ens1f0',
      port: 0,
    });
    expect(rules(withHops(native('a'), offPath))).toEqual(['order', 'position']);
  });

  it('checks a module list as it is now, not as it was when first seen', () => {
    const list = [...mods];
    expect(validatePlan(m, list, good)).toEqual([]);
    list.push(mod('c', 2));
    expect(validatePlan(m, list, good).map((v) => v.constraint)).toContain('split_chain');
  });

  it('order inversion across hooks', () => {
    expect(rules(withHops(generic('a'), native('b')))).toContain('order');
    expect(rules(withHops(native('b'), native('a')))).toEqual(['order']);
  });

  it('native and generic on one netdev', () => {
    expect(rules(withHops(native('a'), generic('b')))).toEqual(['exclusivity']);
  });

  it("more modules than a hook's slots", () => {
    const tight = { ...m, hookSlots: { 'v1/ens2f0': { 'xdp-native': 1 } } };
    expect(validatePlan(tight, mods, withHops(native('a'), native('b'))).map((v) => v.constraint)).toEqual(['slots']);
  });

  it('a hop on a port without traffic', () => {
    const extra = {
      ingress: { interface: 'ens2f1', deviceId: 'v1/ens2f0', pps: 0, meanPacketBytes: 64 },
      hops: [native('a'), native('b')].map((h) => ({ ...h, interface: 'ens2f1', port: 1 })),
    };
    expect(rules({ ...good, paths: [...good.paths, extra] })).toEqual(['no_traffic']);
  });

  it('a refused target, and a capacity broken at the real traffic', () => {
    const refused = { ...m };
    const noNative = [
      mod('a', 0, { verdicts: verdicts({ 'intel-x710-9.20': ['host-xdp-native'], 'host-kernel': ['host-xdp-native'] }) }),
      mod('b', 1),
    ];
    expect(validatePlan(refused, noNative, good).map((v) => v.constraint)).toEqual(['verifier']);
    expect(validatePlan({ ...m, hostCoreBudget: 0.01 }, mods, good).map((v) => v.constraint)).toEqual(['capacity']);
  });
});

describe('fleet', () => {
  const fleet = (n: number) =>
    Array.from({ length: n }, (_, i) => {
      const sys = `f${i}`;
      return {
        ...machine(sys, [agilio(sys), x710(sys)], ['ens1f0']),
        hostname: `edge-${String(i).padStart(2, '0')}`,
        zone: ['zone-a', 'zone-b', 'zone-c'][i % 3],
        tags: i % 2 ? ['lb'] : [],
      };
    });

  it('solves identical machines once and gives each its own device ids', () => {
    const machines = fleet(30);
    const plan = planFleet(machines, [mod('ddos', 0), mod('acl', 1)]);
    expect(plan.stats).toMatchObject({ machines: 30, classes: 1, solves: 1, infeasibleMachines: 0 });
    expect(machinePlan(plan, 7).paths[0].hops[0].deviceId).toBe('f7/ens1f0');
  });

  it('keeps machines apart that differ in ports, slots or traffic, and plans each as if alone', () => {
    const base = fleet(5);
    const machines = [
      base[0],
      { ...base[1] },
      { ...base[2], ports: [{ interface: 'ens2f0' }, { interface: 'ens1f0' }] },
      { ...base[3], hookSlots: { host: { 'xdp-generic': 1 } } },
      { ...base[4], ports: [{ interface: 'ens1f0', traffic: { pps: 9e6, meanPacketBytes: 256 } }] },
    ];
    const mods = [mod('ddos', 0), mod('acl', 1)];
    const plan = planFleet(machines, mods);
    expect(plan.stats).toMatchObject({ machines: 5, classes: 4, solves: 4 });
    machines.forEach((mm, i) => {
      const p = machinePlan(plan, i);
      expect(validatePlan(mm, mods, p)).toEqual([]);
      if (i !== 4) expect(p.paths).toEqual(planMachine(mm, mods).paths);
    });
  });

  it.each([
    ['greedy', false],
    ['MILP', true],
  ])('spreads a fleet-scoped LB over the selector with at most K per zone (%s)', async (_, useMilp) => {
    const machines = fleet(12);
    const lb = mod('l4-lb', 5, { scope: { replicas: 4, totalPps: 8e6, selector: { tags: ['lb'] }, maxPerZone: 2 } });
    const plan = planFleet(machines, [mod('ddos', 0), lb], useMilp ? { highs: await loadHighs() } : {});
    const s = plan.scoped[0];
    expect(s).toMatchObject({ module: 'l4-lb', requested: 4, perReplicaPps: 2e6, feasible: true, solver: useMilp ? 'milp' : 'heuristic' });
    const chosen = new Set(s.replicas.map((r) => r.systemId));
    expect(chosen.size).toBe(4);
    machines.forEach((mm, i) => {
      const p = machinePlan(plan, i);
      expect(p.paths[0].hops.some((h) => h.module === 'l4-lb')).toBe(chosen.has(mm.systemId));
      expect(
        validatePlan(mm, chosen.has(mm.systemId) ? [mod('ddos', 0), { ...lb, traffic: { ...lb.traffic, pps: 2e6 } }] : [mod('ddos', 0)], p),
      ).toEqual([]);
    });
  });
});
