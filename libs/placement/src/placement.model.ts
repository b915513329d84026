import type { Hook, PlacementDeviceKind, PlacementPreference, Target } from '@ioplane/domain';

/**
 * Input and output of the placement engine. Plain data only, so the lead can fill it from the
 * compiler (verdicts, instruction counts, measured ns per packet) and the inventory (devices,
 * profiles) without this library importing either.
 *
 * Units used throughout:
 * - pps: packets per second; ns: nanoseconds; latency: microseconds (us); memory: bytes.
 * - cost: "host-core equivalents" (hce), one fully busy host core = 1.0 (see COST_WEIGHTS).
 *
 * Traffic enters a machine on ingress ports (MAAS interfaces). Each port has a path of hooks a
 * packet meets in order (DPU, NIC hardware, driver XDP, generic XDP: datapath.md); the chain is
 * placed on every ingress port's path, at non-decreasing positions.
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
  /**
   * Traffic the module is declared for: the rate entering a port when nothing else says (it is
   * the first module's rate that enters), and a cap on what it sees further down a chain.
   */
  traffic: TrafficDemand;
  /** Share of what it sees that the module passes on to the next one, 0..1 (default 1). */
  passRatio?: number;
  latencyBudgetUs: number;
  prefer: PlacementPreference;
  /** Hard: a target name, or a device id (`<systemId>/<name>`) that must run the module. */
  pin?: Target | string;
  /**
   * Host ns per packet the program itself costs in XDP: the measured run time minus the
   * measurement harness's own cost (planning does the subtraction), or an estimate.
   */
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
  /** Host ns the port's driver spends receiving a packet (profile `throughput.rxNsPerPacket`). */
  rxNsPerPacket?: number;
  /** Host ns generic XDP adds per packet entering it (profile `throughput.skbNsPerPacket`). */
  skbNsPerPacket?: number;
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
 * A network card of a machine. `flavours[0]` is what it runs now; further entries are other
 * firmware flavours of the same hardware the solver may switch to (at migration cost).
 * `interfaces` are its netdevs on the host in port order (a DPU: its host-facing PFs; port k of
 * a DPU is served by the DPU's uplink `p<k>`). There is no CPU device: generic XDP runs on a
 * port's netdev under the host kernel's limits.
 */
export interface PlacementDevice {
  id: string;
  kind: PlacementDeviceKind;
  flavours: DeviceFlavour[];
  interfaces?: string[];
}

/** A port traffic enters the machine on, with the rate entering it. */
export interface IngressPort {
  /** MAAS interface name (a physical port, a bond member, a DPU's host PF). */
  interface: string;
  /** Rate entering the port; absent: the chain's first module's declared traffic. */
  traffic?: TrafficDemand;
  /** Per-module rates observed on this port (telemetry): a module never sees more than entered. */
  moduleTraffic?: Record<string, TrafficDemand>;
}

/** Agent-reported program slots per hook, per device id (`generic` for the host kernel's generic hook). */
export type HookSlots = Record<string, Partial<Record<Hook, number>>>;

export interface CurrentPlacement {
  deviceId: string;
  target: Target;
  /** The interface it runs on; absent: any port of the device. */
  interface?: string;
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
  /** Where traffic enters; a machine with none carries no chain (and its plan is empty). */
  ports: IngressPort[];
  /**
   * What the agent reports: slots per hook for the flavour each device runs now (a kernel
   * without freplace or tail calls runs one program per hook). `hookSlots.host` is the host
   * kernel's generic hook. Absent entries fall back to the profile.
   */
  hookSlots?: HookSlots;
  /**
   * The agent loads one chain per device port (today's load API: a port, a target, its modules),
   * so a port's modules on the card's hardware must share one hook; host XDP (driver or generic) runs apart from the card.
   */
  oneChainPerPort?: boolean;
  currentPlacement: Record<string, CurrentPlacement>;
  /** Per-machine traffic for a module on every port (telemetry); see IngressPort.moduleTraffic. */
  traffic?: Record<string, TrafficDemand>;
}

// ---------- output ----------

export type RejectCode =
  'verifier' | 'no_verdict' | 'pin' | 'latency' | 'throughput' | 'capacity' | 'chain_order' | 'exclusive' | 'slots' | 'flavour' | 'cost';

/** The rule behind a refusal, as `explain` names it. */
export type RefusalRule = 'order' | 'exclusivity' | 'slots' | 'profile_limit' | 'capacity' | 'firmware' | 'pin' | 'cost';

export function ruleOf(code: RejectCode): RefusalRule {
  switch (code) {
    case 'chain_order':
      return 'order';
    case 'exclusive':
      return 'exclusivity';
    case 'slots':
      return 'slots';
    case 'capacity':
      return 'capacity';
    case 'flavour':
      return 'firmware';
    case 'pin':
      return 'pin';
    case 'cost':
      return 'cost';
    default:
      return 'profile_limit';
  }
}

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
  hook?: Hook;
  interface?: string;
  rule?: RefusalRule;
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

/** One module placed on one port's path. */
export interface Hop {
  module: string;
  target: Target;
  /** The card whose hook runs it (for generic XDP: the card that owns the netdev). */
  deviceId: string;
  /** The netdev it attaches to: the host interface, or the DPU uplink `p<k>` for DPU hooks. */
  interface: string;
  hook: Hook;
  /** HOOK_POSITION of the hook: non-decreasing along a path. */
  position: number;
  /** Index of the port on its device (the agent's load API addresses ports by index). */
  port: number;
  profileId: string | null;
  /** Packets per second this hop sees (after earlier modules' pass fractions). */
  pps: number;
  costBreakdown: CostBreakdown;
  reasons: string[];
  rejected: Rejection[];
}

export interface PathPlan {
  ingress: { interface: string; deviceId: string; pps: number; meanPacketBytes: number };
  /** In packet order (which is chain order). */
  hops: Hop[];
}

export interface MachinePlan {
  systemId: string;
  hostname: string;
  /** False when any module could not be placed; then `infeasible` says why and paths are empty. */
  feasible: boolean;
  /** Per ingress port, the chain's hops in packet order: what is built. */
  paths: PathPlan[];
  /**
   * A per-module summary for readers that predate ports: the module's hop on the first path.
   * `paths` is authoritative (a machine with two uplinks runs every module twice).
   */
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

/**
 * Driver receive cost per packet when the port's profile has none: ESTIMATE from the CoNEXT 2018
 * XDP paper (24 Mpps XDP_DROP on one 3.6 GHz core, about 42 ns per packet, of which 13.3 ns is
 * the XDP program's own base cost): about 28 ns of driver work.
 */
export const DEFAULT_RX_NS = 28;
/**
 * skb cost per packet of generic XDP when the port's profile has none: ESTIMATE, generic XDP
 * drop runs at roughly a third of native on the same core (skb allocation and headroom copy
 * before the program), about 80 ns per packet.
 */
export const DEFAULT_SKB_NS = 80;
/** Latency of host generic XDP, us (ESTIMATE: native path plus skb allocation). */
export const HOST_GENERIC_LATENCY_US = 7;
/** Atomic program swap (bpf_link update): sub-second. */
export const PROGRAM_SWAP_SECONDS = 0.5;
export const DEFAULT_FLOW_RULES = 1024;
/** Slots of a netdev's generic hook when the agent does not say (libxdp dispatcher, MAX_DISPATCHER_ACTIONS). */
export const HOST_GENERIC_SLOTS = 10;
