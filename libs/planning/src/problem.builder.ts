import { HOOKS, hostXdpDeviceId, type FirmwareProfile, type FleetMachine, type Hook } from '@ioplane/domain';
import type { ModuleReport } from '@ioplane/catalog';
import type { ModuleManifest } from '@ioplane/modules';
import {
  CurrentPlacement,
  HookSlots,
  HOST_SLOTS_KEY,
  PlacementDevice,
  placementDevice,
  PlacementMachine,
  PlacementModule,
  TrafficDemand,
} from '@ioplane/placement';
import type { DeviceFacts } from './agent.facts';
import { selectIngress } from './ingress.select';
import type { IngressSelector, PlacementModuleRequest } from './placement-request.schema';

/**
 * A machine as the solver sees it: every network card with its netdevs (profiled ones with their
 * firmware flavours; unprofiled ones with none, so only generic XDP runs on their ports), the
 * ingress ports the request's selector picks, and the slots the agent reports per hook.
 */
export function toPlacementMachine(
  m: FleetMachine,
  profiles: FirmwareProfile[],
  hostCoreBudget: number,
  current: Record<string, CurrentPlacement> = {},
  facts: DeviceFacts | null = null,
  ingress?: IngressSelector,
): PlacementMachine {
  const devices = m.devices.map(
    (d): PlacementDevice => placementDevice(d, profiles) ?? { id: d.id, kind: d.kind, flavours: [], interfaces: [...d.interfaces] },
  );
  const traffic: TrafficDemand | undefined = ingress?.traffic;
  return {
    systemId: m.systemId,
    hostname: m.hostname,
    zone: m.zone,
    pool: m.pool,
    tags: m.tags,
    hostCores: m.cpuCount,
    hostCoreBudget: Math.min(hostCoreBudget, m.cpuCount),
    devices,
    ports: selectIngress(m.interfaces, ingress).map((i) => (traffic ? { interface: i, traffic } : { interface: i })),
    // Slots come from what the agent reports; a machine whose agent reports none gets one module per hook.
    hookSlots: facts && Object.keys(facts).length ? hookSlotsFrom(m, facts) : oneModulePerHook(devices),
    // Today's agents load one chain per device port (a port, a target, its modules), so a card's
    // hooks of one port hold one chain; the netdev's generic hook is loaded apart from it.
    oneChainPerPort: true,
    currentPlacement: current,
  };
}

/** Every hook of every card, and the netdevs' generic hook, hold one module: what a machine gets when its agent reports no slots. */
export function oneModulePerHook(devices: readonly PlacementDevice[]): HookSlots {
  const out: HookSlots = { [HOST_SLOTS_KEY]: { 'xdp-generic': 1 } };
  for (const d of devices) out[d.id] = Object.fromEntries(HOOKS.map((h) => [h, 1]));
  return out;
}

/**
 * Agent facts as slots per hook, keyed as the planner reads them: a card's hooks by its device
 * id; the generic hook of every netdev under HOST_SLOTS_KEY (it is the host kernel's chaining,
 * the least any driver reports). An agent that reports one figure per device (older agents)
 * gets it on every hook of that device. A card's driver XDP comes from its host-XDP device
 * (hostXdpDeviceId) where the agent has one. A device the host's agent does not hold (a DPU whose own
 * agent runs it) keeps its profile's figures.
 */
export function hookSlotsFrom(m: FleetMachine, facts: DeviceFacts): HookSlots {
  const out: HookSlots = {};
  const generic: number[] = [];
  for (const d of m.devices) {
    const f = facts[d.id];
    if (!f) continue;
    const perHook: Partial<Record<Hook, number>> = f.hookSlots
      ? { ...f.hookSlots }
      : Object.fromEntries(HOOKS.map((h) => [h, f.programSlotsPerPort]));
    if (perHook['xdp-generic'] !== undefined) generic.push(perHook['xdp-generic']);
    delete perHook['xdp-generic'];
    out[d.id] = perHook;
  }
  // A card with hardware hooks has its netdevs' driver XDP run by its host-XDP device: that
  // device's figure is the card's native hook (none when it offers no native mode), whatever the card's own driver says.
  for (const d of m.devices) {
    const hx = facts[hostXdpDeviceId(d.id)];
    if (!hx?.hookSlots) continue;
    out[d.id] = { ...out[d.id], 'xdp-native': hx.hookSlots['xdp-native'] ?? 0 };
  }
  // A card's netdevs may have their host hooks run by a driver of their own (hostXdpDeviceId).
  for (const [id, f] of Object.entries(facts))
    if (!m.devices.some((d) => d.id === id) && f.hookSlots?.['xdp-generic'] !== undefined) generic.push(f.hookSlots['xdp-generic']);
  out[HOST_SLOTS_KEY] = { 'xdp-generic': generic.length ? Math.min(...generic) : 1 };
  return out;
}

/**
 * The host ns per packet placement uses: the measured run time less the measurement harness's own
 * cost when the catalog reports it (an empty program measured the same way), else the figure as
 * measured or estimated. Where it came from travels with the plan.
 */
export function hostCostOf(report: ModuleReport): { nsPerPacket: number; measuredNs: number; harnessNs: number | null; source: string } {
  const c = report.cost;
  const harness = c.source === 'kernel' && typeof c.harnessNs === 'number' && c.harnessNs >= 0 ? c.harnessNs : null;
  return {
    nsPerPacket: harness === null ? c.nsPerPacket : Math.max(0, c.nsPerPacket - harness),
    measuredNs: c.nsPerPacket,
    harnessNs: harness,
    source:
      c.source === 'kernel'
        ? harness === null
          ? 'BPF_PROG_TEST_RUN median (harness cost not reported, not subtracted)'
          : 'BPF_PROG_TEST_RUN median minus an empty program measured the same way'
        : 'estimate: XDP base cost plus per-instruction cost (no kernel to measure)',
  };
}

/** A module as the solver sees it: its verdict per profile, its measured (or estimated) cost, the operator's overrides. */
export function toPlacementModule(
  report: ModuleReport,
  manifest: ModuleManifest,
  req: PlacementModuleRequest,
  chainPosition: number,
): PlacementModule {
  const declared = manifest.traffic as ModuleManifest['traffic'] & { passRatio?: number };
  return {
    name: manifest.name,
    version: manifest.version,
    chainPosition,
    traffic: req.traffic ?? { pps: declared.pps, meanPacketBytes: declared.meanPacketBytes },
    passRatio: declared.passRatio,
    latencyBudgetUs: req.latencyBudgetUs ?? manifest.latencyBudgetUs,
    prefer: req.prefer ?? manifest.hints.prefer,
    pin: req.pin,
    hostNsPerPacket: hostCostOf(report).nsPerPacket,
    costEstimated: report.cost.estimated,
    instructions: report.program.totalInstructions,
    mapMemoryBytes: report.maps.reduce((n, m) => n + m.bytes, 0),
    verdicts: Object.fromEntries(
      report.verdicts.map((v) => [
        v.profileId,
        { acceptedTargets: v.acceptedTargets, reasons: v.reasons.map((r) => ({ code: r.code, message: r.message, target: r.target })) },
      ]),
    ),
    scope: req.scope
      ? { replicas: req.scope.replicas, totalPps: req.scope.totalPps, maxPerZone: req.scope.maxPerZone, selector: req.scope.selector ?? {} }
      : undefined,
  };
}
