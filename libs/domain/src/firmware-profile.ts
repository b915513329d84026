import { DeviceKind, Target } from './target';

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
}

export interface FirmwareProfile {
  /** File stem, e.g. netronome-agilio-cx-bpf-2.1. */
  id: string;
  vendor: string;
  model: string;
  kind: Exclude<DeviceKind, 'host-cpu'>;
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
