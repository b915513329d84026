import { createHash } from 'node:crypto';
import type { Device, FlashCapabilities, Hook, MatchActionForm, Target, XdpAction } from '@ioplane/domain';
import type { VectorResult } from '@ioplane/compiler';

export type DriverKind = 'kernel-xdp' | 'emulated-host' | 'emulated-nic' | 'emulated-dpu';
export type AttachMode = 'native' | 'generic' | 'offload' | 'emulated';

/** One module of a chain, in placement order. `digest` is the sha256 hex of `object`. */
export interface ChainModule {
  name: string;
  version: string;
  digest: string;
  program: string;
  /** Maps that survive an upgrade of this module (connection tables, counters). */
  persistentMaps: string[];
  object: Buffer;
  /** Expected packets per second (drives emulated counters). */
  pps?: number;
  /** The module's rules for flow-offload targets (its manifest's matchAction); a flow target refuses a module without it. */
  matchAction?: MatchActionForm;
}

/** The host hook a chain runs on: driver (native) XDP or generic XDP of the port's netdev. */
export type XdpHook = 'xdp-native' | 'xdp-generic';
export const XDP_HOOKS: readonly XdpHook[] = ['xdp-native', 'xdp-generic'];

/** How one hook holds its modules: the module itself, tail calls through a PROG_ARRAY, or a freplace dispatcher. */
export type ChainMechanism = 'single' | 'tail-call' | 'freplace';
/** What a kernel lets a hook chain: tail calls, a freplace dispatcher, or nothing (one module per hook). */
export type ChainSupport = 'tail-call' | 'freplace' | 'none';

export interface LoadRequest {
  port: number;
  target: Target;
  /** Modules in packet order; several become one chain on the port's hook. */
  modules: ChainModule[];
  /**
   * Optional: the hook the plan chose. When given it is binding (xdp-native never falls back to
   * generic) and must agree with `target`; when absent, host-xdp-native tries native, then generic.
   */
  hook?: XdpHook;
  /** Optional: the interface the plan names for this port (the netdev, or the MAAS interface at that port position); refused when the port is another. */
  interface?: string;
  signal?: AbortSignal;
}

export interface LoadedModule {
  name: string;
  version: string;
  digest: string;
  program: string;
  persistentMaps: string[];
  progId: number | null;
  tag: string | null;
}

export interface ChainState {
  /** sha256 over the ordered (name, version, digest, program, persistent maps) list and the target. */
  chainDigest: string;
  target: Target;
  mode: AttachMode;
  modules: LoadedModule[];
  /** How the hook holds the modules (absent in chains recorded before chains had a mechanism: single or freplace). */
  mechanism?: ChainMechanism;
  /** The program attached to the hook: the chain's root (tail calls), a dispatcher (freplace), or the module itself. */
  rootProgId: number | null;
  rootTag: string | null;
  loadedAt: string;
  committed: boolean;
  /** True when found on bpffs by a restarted agent rather than loaded by this process. */
  rediscovered?: boolean;
}

/** Something attached to an interface we own that ioplane did not load: reported, never removed. */
export interface ForeignProgram {
  interface: string;
  progId: number;
  name: string | null;
  tag: string | null;
  mode: string;
}

export interface PortInterface {
  name: string;
  netns: string;
  address: string;
  peerName: string;
  peerNetns: string;
  peerAddress: string;
}

export interface PortPrograms {
  port: number;
  interface: PortInterface | null;
  current: ChainState | null;
  /** Kept (pinned) until commit, so a rollback is one more atomic swap. */
  previous: ChainState | null;
  /** Whether the emulated program crashes its health check (injected fault). */
  unhealthy?: boolean;
  /** What holds a flow-offload chain's rules in the kernel: tc-flower (software path) or the BPF flow table where the kernel has no cls_flower. */
  flowEngine?: 'flower' | 'bpf-flow-table';
}

export type DeviceRunState = 'ready' | 'updating' | 'hung';

export interface DevicePrograms {
  deviceId: string;
  driver: DriverKind;
  state: DeviceRunState;
  ports: PortPrograms[];
  foreign: ForeignProgram[];
  firmware: FirmwareState | null;
}

export interface LoadResult {
  status: 'loaded' | 'replaced' | 'unchanged';
  deviceId: string;
  port: number;
  current: ChainState;
  previous: ChainState | null;
}

export interface FirmwareImageRef {
  profileId: string;
  version: string;
  digest: string;
}

export interface FirmwareSlot {
  name: string;
  image: FirmwareImageRef | null;
  /** `staged`: written and verified, waiting for activation; `bad`: a failed write or boot. */
  state: 'active' | 'inactive' | 'staged' | 'bad' | 'empty';
  /** Times an image was written to this slot since the agent started: a controller that resumes never writes one twice. */
  writes?: number;
}

export interface FirmwareState {
  profileId: string;
  version: string;
  activeSlot: string;
  slots: FirmwareSlot[];
  capabilities: FlashCapabilities;
  updating: boolean;
}

export interface FlashImage extends FirmwareImageRef {
  bytes?: Buffer;
}

export interface FlashOptions {
  /** Default true; false stops after write + verify (staged). */
  activate?: boolean;
  signal?: AbortSignal;
}

export interface FlashResult {
  status: 'already_active' | 'already_staged' | 'staged' | 'committed' | 'fell_back' | 'failed';
  deviceId: string;
  slot: string | null;
  /** False when the image was already in place and nothing was written. */
  wrote: boolean;
  reason?: string;
  durationMs: number;
  firmware: FirmwareState;
}

export interface RollbackResult {
  status: 'rolled_back';
  scope: 'program' | 'firmware';
  deviceId: string;
  port?: number;
  current: ChainState | null;
  firmware?: FirmwareState;
}

export interface CommitResult {
  status: 'committed' | 'nothing_to_commit';
  deviceId: string;
  port: number;
  current: ChainState | null;
}

export interface VectorRequest {
  /** Module of the current chain to run it against; optional when the chain has one module. */
  module?: string;
  name: string;
  packet: Buffer;
  expectVerdict: XdpAction;
  expectOutput?: Buffer;
  repeat?: number;
}

export interface VectorOutcome extends VectorResult {
  module: string;
  /** True when no kernel ran the packet (emulated device without BPF_PROG_TEST_RUN). */
  emulated: boolean;
  /**
   * The vector did not run (no kernel on this agent): `passed` is false and `reason` says why.
   * Never reported as passed; a rollout accepts it only where the placement's policy says so.
   */
  notRun?: boolean;
  /** Where it ran when it ran on the deployed chain (absent: on a copy of the module, or not in a kernel). */
  deployed?: DeployedRun;
}

/** A vector run on the live program of the module's slot in the hook's running chain. */
export interface DeployedRun {
  /** The root the hook's link runs (read from the link, not from what the agent wrote down). */
  rootProgId: number;
  /** The module's slot in that root's program array (-1: the root is the module itself). */
  slot: number;
  /** The program that slot holds, which the vector ran. */
  progId: number;
  /** Whether the output bytes were compared: only where they are the module's own (its verdict ended the chain, or no slot follows). */
  outputCompared: boolean;
}

export interface ModuleCounters {
  module: string;
  port: number;
  packets: number;
  bytes: number;
  drops: number;
  /**
   * Host CPU nanoseconds spent in the program; null when unknown or not on the host CPU. Source
   * `chain`: timed by the chain epilogue, from the hand-off to this slot to its verdict.
   */
  cpuNs: number | null;
  /** `chain`: the hook's counter map, written by the module's chain epilogue (packets it received and its verdicts). */
  source: 'chain' | 'dispatcher' | 'prog-stats' | 'interface' | 'flow-table' | 'flower' | 'emulated';
  /** Slot of the module in its hook's chain (source `chain`). */
  slot?: number;
  /** Packets the module passed on (to the next slot, or to the stack after the last); source `chain`. */
  passed?: number;
  /** Packets the module sent elsewhere (XDP_TX, XDP_REDIRECT); source `chain`. */
  other?: number;
  /** Sums of the module's small array maps (counters), by map name. */
  maps?: Record<string, number>;
}

/** What entered a hook that runs a tail-call chain, from the root's row of the hook counter map. */
export interface HookCounters {
  port: number;
  interface: string;
  packets: number;
  bytes: number;
  /** Packets the root found no module for (an empty chain): passed to the stack unjudged. */
  missed: number;
  /** Host CPU nanoseconds in the whole chain (the root's run time includes every tail-called module); null when stats are off. */
  cpuNs: number | null;
}

export interface DeviceCounters {
  deviceId: string;
  at: string;
  modules: ModuleCounters[];
  /**
   * Hooks with a tail-call chain. Counter rows belong to the hook's slots and keep counting across
   * chain changes; compare two readings taken under the same `chainDigest`.
   */
  hooks?: HookCounters[];
}

/** What a device's hooks can chain: how, and how many modules one hook holds. */
export interface ChainCapability {
  mechanism: ChainSupport;
  /** Modules one hook can run, as this kernel really allows (1 when it cannot chain). */
  slotsPerHook: number;
}

export interface DeviceInventory {
  device: Device;
  driver: DriverKind;
  profileId: string | null;
  targets: Target[];
  ports: number;
  /** Modules one hook (per port) can hold; equals `chain.slotsPerHook` where the driver reports `chain`. */
  programSlotsPerPort: number;
  /** Host XDP drivers: the chain mechanism the kernel probe found and the real slots per hook. */
  chain?: ChainCapability;
  /**
   * Modules each hook of a port holds, as this driver enforces it (the kernel's chaining for host
   * XDP, the profile's programs per port for an emulated card). Flow hooks hold rules and are absent.
   */
  hookSlots?: Partial<Record<Hook, number>>;
  /** Emulated flow offload on a stage: what holds a module's rules on this kernel (probed at start): tc-flower, or the BPF flow table without cls_flower. */
  flowEngine?: 'flower' | 'bpf-flow-table';
  firmware: FirmwareState | null;
}

export interface DeviceDriver {
  readonly kind: DriverKind;
  readonly device: Device;
  /** Prepares the driver (for the kernel: rediscovers pinned state); detaches nothing. */
  init(): Promise<void>;
  inventory(): DeviceInventory;
  programs(): Promise<DevicePrograms>;
  /** Attaches a chain, or atomically replaces the port's whole chain. Same chain again: a no-op. */
  load(req: LoadRequest): Promise<LoadResult>;
  detach(port: number): Promise<{ status: 'detached' | 'not_attached'; deviceId: string; port: number }>;
  /** Drops the previous chain kept for rollback. */
  commit(port: number): Promise<CommitResult>;
  flash(image: FlashImage, opts?: FlashOptions): Promise<FlashResult>;
  rollback(req: { scope: 'program' | 'firmware'; port: number; signal?: AbortSignal }): Promise<RollbackResult>;
  runVectors(port: number, vectors: VectorRequest[]): Promise<VectorOutcome[]>;
  counters(): Promise<DeviceCounters>;
  /**
   * Sends probe traffic through a port so a health check can see counters move. Emulated devices
   * model traffic from the modules' pps and send nothing.
   */
  probe(port: number, packets: number): Promise<{ deviceId: string; port: number; sent: number }>;
  /** Releases process resources; programs keep running. */
  close(): Promise<void>;
}

export function chainDigest(target: Target, modules: Pick<ChainModule, 'name' | 'version' | 'digest' | 'program' | 'persistentMaps'>[]): string {
  const h = createHash('sha256');
  h.update(JSON.stringify([target, modules.map((m) => [m.name, m.version, m.digest, m.program, [...m.persistentMaps].sort()])]));
  return h.digest('hex');
}

export function loadedModules(modules: ChainModule[], ids: { id: number | null; tag: string | null }[]): LoadedModule[] {
  return modules.map((m, i) => ({
    name: m.name,
    version: m.version,
    digest: m.digest,
    program: m.program,
    persistentMaps: [...m.persistentMaps],
    progId: ids[i]?.id ?? null,
    tag: ids[i]?.tag ?? null,
  }));
}
