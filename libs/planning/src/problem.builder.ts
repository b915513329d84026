import type { FirmwareProfile, FleetMachine, Hook } from '@ioplane/domain';
import type { ModuleReport } from '@ioplane/catalog';
import type { ModuleManifest } from '@ioplane/modules';
import { CurrentPlacement, HookSlots, HOST_SLOTS_KEY, PlacementDevice, placementDevice, PlacementMachine, PlacementModule, TrafficDemand } from '@ioplane/placement';
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
  const devices = m.devices
    .filter((d) => d.kind !== 'host-cpu')
    .map((d): PlacementDevice => placementDevice(d, profiles) ?? { id: d.id, kind: d.kind === 'host-cpu' ? 'nic' : d.kind, flavours: [], interfaces: [...d.interfaces] });
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
    hookSlots: facts ? hookSlotsFrom(m, facts) : undefined,
    // An agent that reports slots per hook loads a chain per hook; today's load one chain per device port.
    oneChainPerPort: !facts || !Object.values(facts).some((f) => f.hookSlots),
    currentPlacement: current,
  };
}

/**
 * Agent facts as slots per hook. Today's agents report one figure per device (programs per port
 * for the firmware it runs, one where the kernel refuses freplace); the legacy host-CPU entry is
 * the host kernel's generic hook. A device that reports `hookSlots` itself is taken as it says.
 */
export function hookSlotsFrom(m: FleetMachine, facts: DeviceFacts): HookSlots {
  const out: HookSlots = {};
  for (const d of m.devices) {
    const f = facts[d.id];
    if (!f) continue;
    if (f.hookSlots) {
      out[d.kind === 'host-cpu' ? HOST_SLOTS_KEY : d.id] = { ...f.hookSlots };
      continue;
    }
    // One figure per device: today's agents load a flow module through the same per-port chain
    // and refuse one where the profile gives no program slot (or map memory), so every hook of the
    // card gets it; an agent that reports per-hook slots (rules on flow hooks) says otherwise.
    const hooks: Hook[] = d.kind === 'host-cpu' ? ['xdp-generic'] : ['dpu-flow', 'dpu-xdp', 'nic-flow', 'nic-xdp-offload', 'xdp-native'];
    out[d.kind === 'host-cpu' ? HOST_SLOTS_KEY : d.id] = Object.fromEntries(hooks.map((h) => [h, f.programSlotsPerPort]));
  }
  return out;
}

/**
 * The host ns per packet placement uses: the measured run time less the measurement harness's own
 * cost when the catalog reports it (an empty program measured the same way), else the figure as
 * measured or estimated. Where it came from travels with the plan.
 */
export function hostCostOf(report: ModuleReport): { nsPerPacket: number; measuredNs: number; harnessNs: number | null; source: string } {
  const c = report.cost as ModuleReport['cost'] & { harnessNs?: number };
  const harness = c.source === 'kernel' && typeof c.harnessNs === 'number' && c.harnessNs >= 0 ? c.harnessNs : null;
  return {
    nsPerPacket: harness === null ? c.nsPerPacket : Math.max(0, c.nsPerPacket - harness),
    measuredNs: c.nsPerPacket,
    harnessNs: harness,
    source: c.source === 'kernel'
      ? harness === null ? 'BPF_PROG_TEST_RUN median (harness cost not reported, not subtracted)' : 'BPF_PROG_TEST_RUN median minus an empty program measured the same way'
      : 'estimate: XDP base cost plus per-instruction cost (no kernel to measure)',
  };
}

/** A module as the solver sees it: its verdict per profile, its measured (or estimated) cost, the operator's overrides. */
export function toPlacementModule(report: ModuleReport, manifest: ModuleManifest, req: PlacementModuleRequest, chainPosition: number): PlacementModule {
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
    verdicts: Object.fromEntries(report.verdicts.map((v) => [v.profileId, { acceptedTargets: v.acceptedTargets, reasons: v.reasons.map((r) => ({ code: r.code, message: r.message, target: r.target })) }])),
    scope: req.scope
      ? { replicas: req.scope.replicas, totalPps: req.scope.totalPps, maxPerZone: req.scope.maxPerZone, selector: req.scope.selector ?? {} }
      : undefined,
  };
}
