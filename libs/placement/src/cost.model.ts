import type { Target } from '@ioplane/domain';
import {
  COST_WEIGHTS,
  CostBreakdown,
  DEFAULT_FLOW_RULES,
  DEFAULT_RX_NS,
  DEFAULT_SKB_NS,
  DeviceFlavour,
  HOST_GENERIC_LATENCY_US,
  HOST_GENERIC_SLOTS,
  PlacementDevice,
  PlacementModule,
  TrafficDemand,
} from './placement.model';

/** eSwitch / P4 match-action latency, us (ESTIMATE: no Arm or host crossing). */
export const FLOW_OFFLOAD_LATENCY_US = 2;
/** Ethernet preamble, start delimiter and inter-frame gap: what a frame costs on the wire beyond its bytes. */
export const WIRE_OVERHEAD_BYTES = 20;
/** Arm defaults when a DPU profile omits them: conservative (one core, BlueField-2 slowdown). */
export const DEFAULT_ARM_CORES = 1;
export const DEFAULT_ARM_SLOWDOWN = 4;

/**
 * Generic XDP on a port's netdev runs in the host kernel under its limits (the compiler's host
 * profile), whatever firmware the card runs: a flavour of its own, so it never ties the card's
 * firmware choice.
 */
export const HOST_KERNEL_FLAVOUR: DeviceFlavour = {
  profileId: 'host-kernel',
  targets: ['host-xdp-generic'],
  programSlotsPerPort: HOST_GENERIC_SLOTS,
  ports: 1,
  maxInstructions: 1_000_000,
  mapMemoryBytes: 4 * 1024 ** 3,
  flowRules: 0,
  throughput: { basePps: Number.POSITIVE_INFINITY, nsPerInsn: 0, latencyUs: HOST_GENERIC_LATENCY_US, lineRateGbps: 0 },
  switchSeconds: 0,
};
/** @deprecated the host CPU is no device; kept for callers that priced generic XDP with it. */
export const HOST_CPU_FLAVOUR = HOST_KERNEL_FLAVOUR;

export function flavoursOf(device: PlacementDevice): DeviceFlavour[] {
  return device.flavours;
}

export function isFlowTarget(t: Target): boolean {
  return t === 'nic-flow-offload' || t === 'dpu-flow-offload';
}

export function isHostTarget(t: Target): boolean {
  return t === 'host-xdp-native' || t === 'host-xdp-generic';
}

export function tierOf(t: Target): 'host' | 'nic' | 'dpu' {
  return t.startsWith('host-') ? 'host' : t.startsWith('nic-') ? 'nic' : 'dpu';
}

export function latencyOf(flavour: DeviceFlavour, target: Target): number {
  if (target === 'host-xdp-generic') return HOST_GENERIC_LATENCY_US;
  if (isFlowTarget(target)) return Math.min(flavour.throughput.latencyUs, FLOW_OFFLOAD_LATENCY_US);
  return flavour.throughput.latencyUs;
}

/** Resources a module consumes on a device flavour; the solver adds these up per device. */
export interface Usage {
  slots: number;
  instructions: number;
  mapMemoryBytes: number;
  flowRules: number;
  /** Share of the device's packet budget (NIC offload, flow offload). */
  throughput: number;
  /** Share of the DPU's Arm cores. */
  arm: number;
  hostCores: number;
  armCores: number;
}

/** A zeroed Usage, for callers that pass one to usageOf to be filled again and again. */
export function emptyUsage(): Usage {
  return { slots: 0, instructions: 0, mapMemoryBytes: 0, flowRules: 0, throughput: 0, arm: 0, hostCores: 0, armCores: 0 };
}

/**
 * Host ns per packet a host hook adds beyond the program, from the port card's profile:
 * - the driver's receive cost (rxNsPerPacket) of the packets that reach the host. A chain's host
 *   hops are its tail, so it is charged exactly once per packet entering the host when each host
 *   hop pays it for the packets it stops and the chain's last hop for every packet it sees;
 * - on the generic hook, the skb built before the program (skbNsPerPacket), the same way.
 * `pass` is the module's pass fraction; `last` says it is the chain's last module.
 */
export function hostExtraNs(card: DeviceFlavour | null, target: Target, pass: number, last: boolean): number {
  if (!isHostTarget(target)) return 0;
  const tp = card?.throughput;
  const per = (tp?.rxNsPerPacket ?? DEFAULT_RX_NS) + (target === 'host-xdp-generic' ? (tp?.skbNsPerPacket ?? DEFAULT_SKB_NS) : 0);
  return last ? per : per * (1 - pass);
}

/**
 * `into` is overwritten and returned: problem building calls this for every candidate of every
 * class and keeps only a few numbers, so it reuses one object instead of allocating one each time.
 * `extraHostNs` is hostExtraNs for the hop (receive and skb cost), 0 when not known.
 */
export function usageOf(
  m: PlacementModule,
  traffic: TrafficDemand,
  flavour: DeviceFlavour,
  target: Target,
  into?: Usage,
  extraHostNs = 0,
): Usage {
  const pps = traffic.pps;
  const tp = flavour.throughput;
  const u = into ?? emptyUsage();
  if (into) {
    u.slots = 0;
    u.instructions = 0;
    u.mapMemoryBytes = 0;
    u.flowRules = 0;
    u.throughput = 0;
    u.arm = 0;
    u.hostCores = 0;
    u.armCores = 0;
  }
  if (isFlowTarget(target)) {
    // Match-action rules in the eSwitch run at the profile's line rate (lineRateGbps), not on the
    // Arm cores nor at basePps (which is the XDP program rate): the share is the port's bits on
    // the wire, frame plus 20 bytes of preamble and inter-frame gap, over the line rate.
    u.flowRules = m.flowRules ?? DEFAULT_FLOW_RULES;
    u.throughput =
      tp.lineRateGbps > 0
        ? (pps * (traffic.meanPacketBytes + WIRE_OVERHEAD_BYTES) * 8) / (tp.lineRateGbps * 1e9)
        : Number.POSITIVE_INFINITY;
    return u;
  }
  u.slots = 1;
  u.instructions = m.instructions;
  u.mapMemoryBytes = m.mapMemoryBytes;
  switch (target) {
    case 'host-xdp-native':
    case 'host-xdp-generic':
      u.hostCores = (pps * (m.hostNsPerPacket + extraHostNs)) / 1e9;
      break;
    case 'nic-xdp-offload':
      // Device time per packet: the trivial-program cost plus the program's instructions.
      u.throughput = (pps * (1e9 / tp.basePps + tp.nsPerInsn * m.instructions)) / 1e9;
      break;
    case 'dpu-arm-xdp': {
      const cores = tp.armCores ?? DEFAULT_ARM_CORES;
      u.armCores = (pps * m.hostNsPerPacket * (tp.armSlowdown ?? DEFAULT_ARM_SLOWDOWN)) / 1e9;
      u.arm = u.armCores / cores;
      break;
    }
  }
  return u;
}

/** Cost of one module on one (device flavour, target), without the one-off flavour switch. */
export function costOf(m: PlacementModule, usage: Usage, latencyUs: number, target: Target, migrationSeconds: number): CostBreakdown {
  return breakdownFrom(costFigures(m, usage.hostCores, usage.armCores, usage.throughput, latencyUs, target, migrationSeconds));
}

/**
 * A breakdown's numbers as one packed array, in CostBreakdown's field order: hostCores, armCores,
 * deviceUtilisation, latencyUs, migrationSeconds, preferPenalty, total. A fleet plan keeps
 * thousands of candidates, and an object with seven number fields costs eight heap objects where
 * a packed array costs two; the object is made only for what is shown (breakdownFrom).
 */
export type CostFigures = number[];

export function costFigures(
  m: PlacementModule,
  hostCores: number,
  armCores: number,
  deviceUtilisation: number,
  latencyUs: number,
  target: Target,
  migrationSeconds: number,
): CostFigures {
  return figuresWith(hostCores, armCores, deviceUtilisation, latencyUs, migrationSeconds, utilWeightOf(target), preferPenaltyOf(m, target));
}

/** The weight of device utilisation in a cost on `target`. */
export function utilWeightOf(target: Target): number {
  const w = COST_WEIGHTS;
  return target === 'nic-xdp-offload' ? w.nicUtilisation : isFlowTarget(target) ? w.flowUtilisation : 0;
}

/** What a cost on `target` adds for going against the module's preferred tier. */
export function preferPenaltyOf(m: PlacementModule, target: Target): number {
  return m.prefer !== 'auto' && tierOf(target) !== m.prefer ? COST_WEIGHTS.preferMismatch : 0;
}

/**
 * costFigures with the target's utilisation weight and the prefer penalty given: both depend on
 * the option only, so problem building works them out once per static option, not per class.
 */
export function figuresWith(
  hostCores: number,
  armCores: number,
  deviceUtilisation: number,
  latencyUs: number,
  migrationSeconds: number,
  utilWeight: number,
  preferPenalty: number,
): CostFigures {
  const total = costTotal(hostCores, armCores, deviceUtilisation, latencyUs, migrationSeconds, utilWeight, preferPenalty);
  return [hostCores, armCores, deviceUtilisation, latencyUs, migrationSeconds, preferPenalty, total];
}

/**
 * The weighted sum alone, in the one order of operations every cost is summed in: the chain
 * relaxation on numbers (chain.relaxation.ts) must reach the very same doubles as the candidates.
 */
export function costTotal(
  hostCores: number,
  armCores: number,
  deviceUtilisation: number,
  latencyUs: number,
  migrationSeconds: number,
  utilWeight: number,
  preferPenalty: number,
): number {
  const w = COST_WEIGHTS;
  return (
    w.hostCore * hostCores +
    w.armCore * armCores +
    utilWeight * deviceUtilisation +
    w.latencyUs * latencyUs +
    w.migrationSecond * migrationSeconds +
    preferPenalty
  );
}

/** The figures with another migration charge (everything else a cost depends on is in them). */
export function refigure(m: PlacementModule, f: CostFigures, target: Target, migrationSeconds: number): CostFigures {
  return costFigures(m, f[0], f[1], f[2], f[3], target, migrationSeconds);
}

export function breakdownFrom(f: CostFigures): CostBreakdown {
  return {
    hostCores: f[0],
    armCores: f[1],
    deviceUtilisation: f[2],
    latencyUs: f[3],
    migrationSeconds: f[4],
    preferPenalty: f[5],
    total: f[6],
  };
}
