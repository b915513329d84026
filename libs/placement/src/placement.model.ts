import type { DeviceKind, PlacementPreference, Target } from '@ioplane/domain';

/**
 * Input and output of the placement engine. Plain data only, so the lead can fill it from the
 * compiler (verdicts, instruction counts, measured ns per packet) and the inventory (devices,
 * profiles) without this library importing either.
 *
 * Units used throughout:
 * - pps: packets per second; ns: nanoseconds; latency: microseconds (us); memory: bytes.
 * - cost: "host-core equivalents" (hce), one fully busy host core = 1.0 (see COST_WEIGHTS).
 */

/** Verifier reason as the compiler reports it (`OffloadReason` subset). */
export interface VerdictReason {
  code: string;
  message: string;
  target?: Target;
}

/** The offload verifier's answer for one profile (`OffloadVerdict` subset). */
export interface PlacementVerdict {
  acceptedTargets: Target[];
  reasons: VerdictReason[];
}

/** Key of the verdict that judges host targets (the compiler's built-in host profile). */
export const HOST_VERDICT_KEY = 'host-kernel';

export interface TrafficDemand {
  pps: number;
  meanPacketBytes: number;
}

/** Which machines a fleet-scoped module may run on: every given field must match. */
export interface MachineSelector {
  /** The machine carries all of these tags. */
  tags?: string[];
  zones?: string[];
  pools?: string[];
  hostnames?: string[];
}

/**
 * A module placed on a set of machines chosen fleet-wide rather than on every machine.
 * replicas: how many machines; totalPps: traffic spread evenly over the replicas (when replicas
 * is absent, replicas = ceil(totalPps / traffic.pps), i.e. traffic.pps is the per-replica capacity).
 */
export interface FleetScope {
  replicas?: number;
  totalPps?: number;
  selector: MachineSelector;
  /** At most this many replicas in one zone. */
  maxPerZone?: number;
}

export interface PlacementModule {
  name: string;
  version: string;
  /** Order in the ingress chain: lower runs first (closer to the wire). */
  chainPosition: number;
  traffic: TrafficDemand;
  latencyBudgetUs: number;
  prefer: PlacementPreference;
  /** Hard: a target name, or a device id (`<systemId>/<name>`) that must run the module. */
  pin?: Target | string;
  /** Host ns per packet for native XDP (from the compiler's profiler, or an estimate). */
  hostNsPerPacket: number;
  costEstimated: boolean;
  /** eBPF instructions of the program (static facts). */
  instructions: number;
  /** Sum of map memory the program creates, bytes. */
  mapMemoryBytes: number;
  /** Match-action rules it needs when flow-offloaded; default DEFAULT_FLOW_RULES. */
  flowRules?: number;
  /** Verifier verdict per profile id; `host-kernel` judges host-xdp-native/-generic. */
  verdicts: Record<string, PlacementVerdict>;
  scope?: FleetScope;
}

export interface DeviceThroughput {
  /** Packets per second for a trivial program (line rate or PCIe ceiling). */
  basePps: number;
  /** Device ns per eBPF instruction executed. */
  nsPerInsn: number;
  latencyUs: number;
  armCores?: number;
  armSlowdown?: number;
  lineRateGbps: number;
}

/** One firmware flavour a device can run, with the numbers copied from its FirmwareProfile. */
export interface DeviceFlavour {
  profileId: string;
  targets: Target[];
  programSlotsPerPort: number;
  ports: number;
  maxInstructions: number;
  mapMemoryBytes: number;
  flowRules: number;
  throughput: DeviceThroughput;
  /** Seconds to switch to this flavour from another (flash write + activate). */
  switchSeconds: number;
}

/**
 * A device of a machine. `flavours[0]` is what it runs now; further entries are other firmware
 * flavours of the same hardware the solver may switch to (at migration cost).
 * The host CPU is a device of kind `host-cpu` with no flavours: it runs host-xdp-generic.
 */
export interface PlacementDevice {
  id: string;
  kind: DeviceKind;
  flavours: DeviceFlavour[];
}

export interface CurrentPlacement {
  deviceId: string;
  target: Target;
}

export interface PlacementMachine {
  systemId: string;
  hostname: string;
  zone: string;
  pool: string;
  tags: string[];
  hostCores: number;
  /** Host cores the fleet allows XDP to consume on this machine. */
  hostCoreBudget: number;
  devices: PlacementDevice[];
  currentPlacement: Record<string, CurrentPlacement>;
  /** Per-machine traffic for a module; default is the module's own traffic. */
  traffic?: Record<string, TrafficDemand>;
}

// ---------- output ----------

export type RejectCode =
  | 'verifier'
  | 'no_verdict'
  | 'pin'
  | 'latency'
  | 'throughput'
  | 'capacity'
  | 'chain_order'
  | 'flavour'
  | 'cost';

export interface CostBreakdown {
  hostCores: number;
  armCores: number;
  /** Fraction of the device's packet budget (NIC offload, flow offload, host NIC ceiling). */
  deviceUtilisation: number;
  latencyUs: number;
  migrationSeconds: number;
  preferPenalty: number;
  /** Weighted sum, hce. */
  total: number;
}

export interface Rejection {
  deviceId: string;
  target: Target;
  code: RejectCode;
  message: string;
  /** For `cost`: how much more the alternative costs, hce. */
  costDelta?: number;
}

export interface ModulePlacement {
  module: string;
  deviceId: string;
  target: Target;
  profileId: string | null;
  costBreakdown: CostBreakdown;
  reasons: string[];
  rejected: Rejection[];
}

export interface InfeasibleModule {
  module: string;
  /** The constraint that blocks it: a RejectCode, or a resource name for joint capacity. */
  constraint: string;
  message: string;
}

export type SolverKind = 'exact' | 'milp' | 'heuristic';

export interface MachinePlan {
  systemId: string;
  hostname: string;
  /** False when any module could not be placed; then `infeasible` says why and placements are empty. */
  feasible: boolean;
  placements: Record<string, ModulePlacement>;
  infeasible: InfeasibleModule[];
  /** Total cost, hce, including one-off firmware flavour switches. */
  cost: number;
  /** Lower bound on the optimum; equals cost when the solver proved optimality. */
  lowerBound: number;
  /** Firmware flavour switches the plan needs: device -> new profile id. */
  flavourSwitches: Record<string, string>;
  solver: SolverKind;
}

// ---------- cost model constants (documented defaults) ----------

/**
 * Weights that fold every cost into hce. Host cores are the main cost (as in iPipe and Gallium);
 * offload resources are cheap but not free so that equal-cost plans prefer leaving headroom.
 */
export const COST_WEIGHTS = {
  /** One host core fully spent on XDP. */
  hostCore: 1,
  /** One Arm core of a DPU: slower, but otherwise idle silicon that costs little power. */
  armCore: 0.25,
  /** A whole NIC's packet budget for XDP offload. */
  nicUtilisation: 0.05,
  /** A whole eSwitch/P4 pipeline's packet budget for flow offload. */
  flowUtilisation: 0.02,
  /** Per microsecond of latency added (tie-breaker within the budget). */
  latencyUs: 0.001,
  /** Per second of disruption caused by migration (program swap, firmware flash). */
  migrationSecond: 0.005,
  /** Placing off the module's `prefer` tier. */
  preferMismatch: 0.3,
} as const;

/** Generic (skb-mode) XDP costs this many times native (ESTIMATE: skb allocation per packet). */
export const GENERIC_XDP_FACTOR = 2.5;
/** Latency of host generic XDP, us (ESTIMATE: native path plus skb allocation). */
export const HOST_GENERIC_LATENCY_US = 7;
/** Atomic program swap (bpf_link update): sub-second. */
export const PROGRAM_SWAP_SECONDS = 0.5;
export const DEFAULT_FLOW_RULES = 1024;
/** Slots of the host CPU device for generic XDP (libxdp dispatcher, MAX_DISPATCHER_ACTIONS). */
export const HOST_GENERIC_SLOTS = 10;
