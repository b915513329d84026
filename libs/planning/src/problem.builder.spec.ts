import { device, machine } from '@ioplane/domain/testing';
import type { ModuleReport } from '@ioplane/catalog';
import { HOST_SLOTS_KEY, planMachine, PlacementModule, validatePlan } from '@ioplane/placement';
import { loadProfiles } from '@ioplane/profiles';
import { hostXdpDeviceId } from '@ioplane/domain';
import { hostCostOf, toPlacementMachine } from './problem.builder';
import { x710Module } from './testing';

const cost = (c: ModuleReport['cost']): ModuleReport => ({ cost: c }) as ModuleReport;

describe(hostCostOf.name, () => {
  it('subtracts the harness cost from a kernel-measured figure and keeps both apart', () => {
    const r = hostCostOf(cost({ nsPerPacket: 42, harnessNs: 17, estimated: false, source: 'kernel' }));
    expect(r).toMatchObject({ nsPerPacket: 25, measuredNs: 42, harnessNs: 17 });
    expect(r.source).toMatch(/minus an empty program/);
  });

  it('never goes below zero, and says so when no harness figure was reported', () => {
    expect(hostCostOf(cost({ nsPerPacket: 10, harnessNs: 12, estimated: false, source: 'kernel' })).nsPerPacket).toBe(0);
    const bare = hostCostOf(cost({ nsPerPacket: 42, estimated: false, source: 'kernel' }));
    expect(bare).toMatchObject({ nsPerPacket: 42, harnessNs: null });
    expect(bare.source).toMatch(/not subtracted/);
  });

  it('leaves an estimate as it is (nothing was measured, so no harness ran)', () => {
    expect(hostCostOf(cost({ nsPerPacket: 30, harnessNs: 17, estimated: true, source: 'estimate' }))).toMatchObject({
      nsPerPacket: 30,
      harnessNs: null,
    });
  });
});

// An X710 host with one 25G port, its uplink: traffic enters on ens1f0.
const x710 = device('nic', { machine: 'h1', ports: 1, linkSpeedMbps: 25_000 });
const host = machine({ systemId: 'h1', hostname: 'h1', zone: 'z', pool: 'p', cpuCount: 16, devices: [x710] });

const mod = (name: string, chainPosition: number): PlacementModule => x710Module(name, chainPosition, { pps: 1e5, latencyBudgetUs: 50 });

describe('hook slots from agent facts', () => {
  const profiles = loadProfiles();
  const chain = [mod('a', 0), mod('b', 1), mod('c', 2)];

  it('takes the slots the agent reports per hook: a three-module chain shares the native hook', () => {
    const m = toPlacementMachine(
      host,
      profiles,
      4,
      {},
      { 'h1/ens1f0': { programSlotsPerPort: 32, ports: 1, hookSlots: { 'xdp-native': 32, 'xdp-generic': 32 } } },
    );
    expect(m.hookSlots).toMatchObject({ 'h1/ens1f0': { 'xdp-native': 32 }, [HOST_SLOTS_KEY]: { 'xdp-generic': 32 } });
    const plan = planMachine(m, chain);
    expect(plan.feasible).toBe(true);
    expect(plan.paths[0].hops.map((h) => h.hook)).toEqual(['xdp-native', 'xdp-native', 'xdp-native']);
  });

  it("takes the kernel's report over the profile's estimate for driver XDP: twelve modules on a hook the X710 profile puts at 10", () => {
    const long = Array.from({ length: 12 }, (_, i) => mod(`m${i}`, i));
    const facts = (n: number) => ({ 'h1/ens1f0': { programSlotsPerPort: n, ports: 1, hookSlots: { 'xdp-native': n, 'xdp-generic': n } } });
    const roomy = toPlacementMachine(host, profiles, 16, {}, facts(32));
    const plan = planMachine(roomy, long);
    expect(plan.feasible).toBe(true);
    expect(new Set(plan.paths[0].hops.map((h) => h.hook))).toEqual(new Set(['xdp-native']));
    expect(validatePlan(roomy, long, plan)).toEqual([]);
    expect(planMachine(toPlacementMachine(host, profiles, 16, {}, facts(11)), long).feasible).toBe(false);
  });

  it('takes a smaller report as binding: two slots cannot hold the chain on one hook', () => {
    const m = toPlacementMachine(
      host,
      profiles,
      4,
      {},
      { 'h1/ens1f0': { programSlotsPerPort: 2, ports: 1, hookSlots: { 'xdp-native': 2, 'xdp-generic': 2 } } },
    );
    const plan = planMachine(m, chain);
    // Native and generic exclude each other on one netdev, so nothing else can take the third module.
    expect(plan.feasible).toBe(false);
  });

  it('falls back to one module per hook when the machine reports no slots', () => {
    const m = toPlacementMachine(host, profiles, 4, {}, null);
    expect(m.hookSlots).toMatchObject({ 'h1/ens1f0': { 'xdp-native': 1 }, [HOST_SLOTS_KEY]: { 'xdp-generic': 1 } });
    expect(planMachine(m, chain).feasible).toBe(false);
    expect(planMachine(m, chain.slice(0, 1)).feasible).toBe(true);
  });
});

describe('driver XDP slots of a card with hardware hooks', () => {
  const profiles = loadProfiles();
  // A ConnectX-6 Dx: its own driver is emulated (flow offload), its netdevs' host XDP runs in <card>~xdp.
  const cx6 = device('connectx-6dx', { machine: 'h2', ports: 1 });
  const h2 = machine({ systemId: 'h2', hostname: 'h2', zone: 'z', pool: 'p', cpuCount: 16, devices: [cx6] });
  const hostXdp = hostXdpDeviceId(cx6.id);
  const onCx6 = (name: string, chainPosition: number): PlacementModule => ({
    ...mod(name, chainPosition),
    verdicts: {
      ...mod(name, chainPosition).verdicts,
      'mellanox-connectx-6dx-22.39': { acceptedTargets: ['host-xdp-native'], reasons: [] },
    },
  });
  const chain = [onCx6('a', 0), onCx6('b', 1), onCx6('c', 2)];

  it("takes the native slots from the card's host-XDP device, not from what the card's own driver claims", () => {
    const facts = {
      [cx6.id]: { programSlotsPerPort: 1, ports: 1, hookSlots: { 'xdp-native': 1 } },
      [hostXdp]: { programSlotsPerPort: 32, ports: 1, hookSlots: { 'xdp-native': 32, 'xdp-generic': 32 } },
    };
    const m = toPlacementMachine(h2, profiles, 4, {}, facts);
    expect(m.hookSlots).toMatchObject({ [cx6.id]: { 'xdp-native': 32 }, [HOST_SLOTS_KEY]: { 'xdp-generic': 32 } });
    const plan = planMachine(m, chain);
    expect(plan.feasible).toBe(true);
    expect(plan.paths[0].hops.map((h) => [h.hook, h.deviceId])).toEqual([
      ['xdp-native', cx6.id],
      ['xdp-native', cx6.id],
      ['xdp-native', cx6.id],
    ]);
    expect(validatePlan(m, chain, plan)).toEqual([]);
  });

  it("a single module picks driver XDP on the card's port when its host-XDP device offers it, and never when it offers generic only", () => {
    const card = { [cx6.id]: { programSlotsPerPort: 10, ports: 1, hookSlots: {} } };
    const native = toPlacementMachine(
      h2,
      profiles,
      4,
      {},
      { ...card, [hostXdp]: { programSlotsPerPort: 32, ports: 1, hookSlots: { 'xdp-native': 32, 'xdp-generic': 32 } } },
    );
    expect(planMachine(native, chain.slice(0, 1)).paths[0].hops.map((h) => h.hook)).toEqual(['xdp-native']);
    const generic = toPlacementMachine(
      h2,
      profiles,
      4,
      {},
      { ...card, [hostXdp]: { programSlotsPerPort: 32, ports: 1, hookSlots: { 'xdp-generic': 32 } } },
    );
    expect(generic.hookSlots?.[cx6.id]?.['xdp-native']).toBe(0);
    expect(planMachine(generic, chain.slice(0, 1)).paths[0].hops.map((h) => h.hook)).toEqual(['xdp-generic']);
  });
});
