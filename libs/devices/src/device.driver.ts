import { createHash } from 'node:crypto';
import type { Device, MatchActionForm, Target, XdpAction } from '@ioplane/domain';
import type {
  CommitResult,
  DetachResult,
  DeviceCounters,
  DeviceInventory,
  DevicePrograms,
  DriverKind,
  FirmwareImageRef,
  FlashResult,
  LoadedModule,
  LoadResult,
  ProbeResult,
  RollbackResult,
  VectorOutcome,
  XdpHook,
} from '@ioplane/agent-api';

// What a driver reports is what the agent answers: those types are the agent API's response schemas.
export type {
  AttachMode,
  ChainCapability,
  ChainMechanism,
  ChainState,
  ChainSupport,
  CommitResult,
  DeployedRun,
  DeviceCounters,
  DeviceInventory,
  DevicePrograms,
  DeviceRunState,
  DriverKind,
  FirmwareImageRef,
  FirmwareSlot,
  FirmwareState,
  FlashResult,
  ForeignProgram,
  HookCounters,
  LoadedModule,
  LoadResult,
  ModuleCounters,
  PortInterface,
  PortPrograms,
  RollbackResult,
  VectorOutcome,
} from '@ioplane/agent-api';

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

export { XDP_HOOKS } from '@ioplane/agent-api';
export type { XdpHook } from '@ioplane/agent-api';

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

export interface FlashImage extends FirmwareImageRef {
  bytes?: Buffer;
}

export interface FlashOptions {
  /** Default true; false stops after write + verify (staged). */
  activate?: boolean;
  signal?: AbortSignal;
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

export interface DeviceDriver {
  readonly kind: DriverKind;
  readonly device: Device;
  /** Prepares the driver (for the kernel: rediscovers pinned state); detaches nothing. */
  init(): Promise<void>;
  inventory(): DeviceInventory;
  programs(): Promise<DevicePrograms>;
  /** Attaches a chain, or atomically replaces the port's whole chain. Same chain again: a no-op. */
  load(req: LoadRequest): Promise<LoadResult>;
  detach(port: number): Promise<DetachResult>;
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
  probe(port: number, packets: number): Promise<ProbeResult>;
  /** Releases process resources; programs keep running. */
  close(): Promise<void>;
}

export function chainDigest(
  target: Target,
  modules: Pick<ChainModule, 'name' | 'version' | 'digest' | 'program' | 'persistentMaps'>[],
): string {
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
