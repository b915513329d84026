import { PlacementDeviceKind, Target } from './target';

/** Update capabilities, modelled on fwupd plugin flags and Mender A/B. */
export interface FlashCapabilities {
  dualImage: boolean;
  needsReboot: boolean;
  needsActivation: boolean;
  canVerify: boolean;
  usableDuringUpdate: boolean;
}

export interface FlashMethod {
  /** Tool the real device uses: nfp-fw-load, mlxfwmanager, bfb-install, devlink-flash, none. */
  tool: string;
  /** Seconds to write an image to the inactive slot. */
  writeSeconds: number;
  /** Seconds for activation (reset, driver reload, reboot). */
  activateSeconds: number;
  capabilities: FlashCapabilities;
  /** A/B slot names; empty when the device has a single image. */
  slots: string[];
}

export interface ProfileLimits {
  /** eBPF instruction budget after the profile's expansion factor is applied (see instructionExpansion). */
  maxInstructions: number;
  /** Device machine instructions per eBPF instruction (estimate; NFP JIT expands). */
  instructionExpansion: number;
  /** Offloaded programs per port (nfp: one, XDP or tc). */
  programSlotsPerPort: number;
  ports: number;
  stackBytes: number;
  /** Allowed helper ids; null means the host kernel's full set. */
  helpers: number[] | null;
  /** Allowed map type ids; null means any. */
  mapTypes: number[] | null;
  /** Map memory shared by everything placed on the device. */
  mapMemoryBytes: number;
  maxMapEntries: number;
  /** Max key+value bytes per entry; null means no limit. */
  maxEntryBytes: number | null;
  mapFlagsAllowed: boolean;
  /** eBPF opcodes the device refuses (e.g. MOD, bswap). */
  refusedOpcodes: number[];
  tailCalls: boolean;
  bpfToBpfCalls: boolean;
  /** Atomic ops: none, add-only, or all. */
  atomics: 'none' | 'add' | 'all';
  /** XDP return values honoured; others are refused. */
  xdpActions: number[];
  /** Only pure match-action modules fit flow offload: max rules per device. */
  flowRules: number;
  /** What the device driver's own verifier and JIT check on an offloaded program (absent: no such driver). */
  offload?: OffloadRules;
}

/**
 * Checks a driver makes when the kernel hands it an offloaded program (for nfp:
 * drivers/net/ethernet/netronome/nfp/bpf/ verifier.c, jit.c, offload.c). Every number is a
 * profile value; the analyzer's facts are compared with them.
 */
export interface OffloadRules {
  /** Driver name shown in reasons (`nfp`). */
  driver: string;
  /** Expected attach types the device cannot run (XDP_DEVMAP, XDP_CPUMAP: programs for map entries, not a port). */
  refusedAttachTypes: string[];
  /** Map types that stay on the host and are shared with the device (PERF_EVENT_ARRAY); not device maps. */
  neutralMapTypes: number[];
  /** Key and value are each rounded up to this many bytes before maxEntryBytes applies. */
  entryRounding: number;
  maxKeyBytes: number | null;
  maxValueBytes: number | null;
  /** Plain stores into map values; false: maps change only through helpers and atomic add. */
  mapValueStores: boolean;
  /** Atomic operations only on map values. */
  atomicsOnMapValuesOnly: boolean;
  /** ctx (xdp_md) offsets the program may read, and the access size they need (data 0, data_end 4; 4 B). */
  ctxReadOffsets: number[];
  ctxReadBytes: number;
  /** ctx offsets the program may write (nfp: rx_queue_index only with the firmware's queue selection). */
  ctxWriteOffsets: number[];
  /** Widest multiply or divide operand the device computes, in bits. */
  mulDivMaxBits: number;
  /** Divide only by a value known at load time. */
  divisorConstant: boolean;
  /** Map helpers' key (and update's value) must point to the stack, aligned to stackArgAlign. */
  mapArgsOnStack: boolean;
  stackArgAlign: number;
  /** bpf_perf_event_output only with BPF_F_CURRENT_CPU, its data from the stack, a map value, the packet or NULL. */
  perfEventCurrentCpu: boolean;
  /** Stack use: each frame rounded up to this, plus per called frame its return address and, when it uses r6..r9, their save area. */
  stackFrameAlign: number;
  callFrameBytes: number;
  calleeSavedBytes: number;
}

export interface ThroughputModel {
  lineRateGbps: number;
  /** Packets per second sustained for a trivial program. */
  basePps: number;
  /** Device nanoseconds added per eBPF instruction executed (drives pps for bigger programs). */
  nsPerInsn: number;
  /** Latency the device adds to a packet, microseconds. */
  latencyUs: number;
  /** DPU only: Arm cores and cost factor against a host core. */
  armCores?: number;
  armSlowdown?: number;
  /**
   * Host nanoseconds the port's driver spends receiving one packet before any XDP program runs
   * (DMA, descriptor, NAPI). Charged to host hooks; absent: DEFAULT_RX_NS in the placement lib.
   */
  rxNsPerPacket?: number;
  /** Host nanoseconds generic XDP adds per packet: the skb built (and headroom made) before the program. */
  skbNsPerPacket?: number;
}

export interface FirmwareProfile {
  /** File stem, e.g. netronome-agilio-cx-bpf-2.1. */
  id: string;
  vendor: string;
  model: string;
  kind: PlacementDeviceKind;
  firmware: { version: string; flavour: string };
  pci: { vendorId: string; productIds: string[] };
  /** Interface firmware_version prefixes this profile matches; empty matches any. */
  firmwareVersions: string[];
  targets: Target[];
  limits: ProfileLimits;
  throughput: ThroughputModel;
  flash: FlashMethod;
  /** Other profile ids of the same hardware: switching to one means a flash. */
  flavourOf?: string;
}
