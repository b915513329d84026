import { z } from 'zod';
import { HOOKS, TARGETS, XDP_ACTIONS, type Device, type FlashCapabilities } from '@ioplane/domain';

/**
 * What the agent answers, one schema per body. The agent's drivers produce these types (they are
 * `z.infer` of the schemas, re-exported by `@ioplane/devices`) and the controller's client parses
 * every answer with them, so the two sides cannot drift apart silently.
 */

export const DRIVER_KINDS = ['kernel-xdp', 'emulated-host', 'emulated-nic', 'emulated-dpu'] as const;
export const driverKindSchema = z.enum(DRIVER_KINDS);
export type DriverKind = z.infer<typeof driverKindSchema>;
export const attachModeSchema = z.enum(['native', 'generic', 'offload', 'emulated']);
export type AttachMode = z.infer<typeof attachModeSchema>;
export const chainMechanismSchema = z.enum(['single', 'tail-call', 'freplace']);
export type ChainMechanism = z.infer<typeof chainMechanismSchema>;
export const chainSupportSchema = z.enum(['tail-call', 'freplace', 'none']);
export type ChainSupport = z.infer<typeof chainSupportSchema>;
const flowEngine = z.enum(['flower', 'bpf-flow-table']);
const target = z.enum(TARGETS);

/** A domain Device travels as the inventory stored it; only its identity is checked here. */
const deviceSchema = z.custom<Device>(
  (v) => typeof v === 'object' && v !== null && typeof (v as { id?: unknown }).id === 'string',
  'must be a device with an id',
);
const flashCapabilitiesSchema = z.object({
  dualImage: z.boolean(),
  needsReboot: z.boolean(),
  needsActivation: z.boolean(),
  canVerify: z.boolean(),
  usableDuringUpdate: z.boolean(),
}) satisfies z.ZodType<FlashCapabilities>;

export const loadedModuleSchema = z.object({
  name: z.string(),
  version: z.string(),
  digest: z.string(),
  program: z.string(),
  persistentMaps: z.array(z.string()),
  progId: z.number().nullable(),
  tag: z.string().nullable(),
});
export type LoadedModule = z.infer<typeof loadedModuleSchema>;

export const chainStateSchema = z.object({
  /** sha256 over the ordered (name, version, digest, program, persistent maps) list and the target. */
  chainDigest: z.string(),
  target,
  mode: attachModeSchema,
  modules: z.array(loadedModuleSchema),
  /** How the hook holds the modules (absent in chains recorded before chains had a mechanism: single or freplace). */
  mechanism: chainMechanismSchema.optional(),
  /** The program attached to the hook: the chain's root (tail calls), a dispatcher (freplace), or the module itself. */
  rootProgId: z.number().nullable(),
  rootTag: z.string().nullable(),
  loadedAt: z.string(),
  committed: z.boolean(),
  /** True when found on bpffs by a restarted agent rather than loaded by this process. */
  rediscovered: z.boolean().optional(),
});
export type ChainState = z.infer<typeof chainStateSchema>;

/** Something attached to an interface we own that ioplane did not load: reported, never removed. */
export const foreignProgramSchema = z.object({
  interface: z.string(),
  progId: z.number(),
  name: z.string().nullable(),
  tag: z.string().nullable(),
  mode: z.string(),
});
export type ForeignProgram = z.infer<typeof foreignProgramSchema>;

export const portInterfaceSchema = z.object({
  name: z.string(),
  netns: z.string(),
  address: z.string(),
  peerName: z.string(),
  peerNetns: z.string(),
  peerAddress: z.string(),
});
export type PortInterface = z.infer<typeof portInterfaceSchema>;

export const portProgramsSchema = z.object({
  port: z.number(),
  interface: portInterfaceSchema.nullable(),
  current: chainStateSchema.nullable(),
  /** Kept (pinned) until commit, so a rollback is one more atomic swap. */
  previous: chainStateSchema.nullable(),
  /** Whether the emulated program crashes its health check (injected fault). */
  unhealthy: z.boolean().optional(),
  /** What holds a flow-offload chain's rules in the kernel: tc-flower (software path) or the BPF flow table where the kernel has no cls_flower. */
  flowEngine: flowEngine.optional(),
});
export type PortPrograms = z.infer<typeof portProgramsSchema>;

export const firmwareImageRefSchema = z.object({ profileId: z.string(), version: z.string(), digest: z.string() });
export type FirmwareImageRef = z.infer<typeof firmwareImageRefSchema>;

export const firmwareSlotSchema = z.object({
  name: z.string(),
  image: firmwareImageRefSchema.nullable(),
  /** `staged`: written and verified, waiting for activation; `bad`: a failed write or boot. */
  state: z.enum(['active', 'inactive', 'staged', 'bad', 'empty']),
  /** Times an image was written to this slot since the agent started: a controller that resumes never writes one twice. */
  writes: z.number().optional(),
});
export type FirmwareSlot = z.infer<typeof firmwareSlotSchema>;

export const firmwareStateSchema = z.object({
  profileId: z.string(),
  version: z.string(),
  activeSlot: z.string(),
  slots: z.array(firmwareSlotSchema),
  capabilities: flashCapabilitiesSchema,
  updating: z.boolean(),
});
export type FirmwareState = z.infer<typeof firmwareStateSchema>;

export const deviceRunStateSchema = z.enum(['ready', 'updating', 'hung']);
export type DeviceRunState = z.infer<typeof deviceRunStateSchema>;

export const deviceProgramsSchema = z.object({
  deviceId: z.string(),
  driver: driverKindSchema,
  state: deviceRunStateSchema,
  ports: z.array(portProgramsSchema),
  foreign: z.array(foreignProgramSchema),
  firmware: firmwareStateSchema.nullable(),
});
export type DevicePrograms = z.infer<typeof deviceProgramsSchema>;

/** GET /v1/programs */
export const programsResponseSchema = z.object({ devices: z.array(deviceProgramsSchema) });

/** POST /v1/devices/{id}/load */
export const loadResultSchema = z.object({
  status: z.enum(['loaded', 'replaced', 'unchanged']),
  deviceId: z.string(),
  port: z.number(),
  current: chainStateSchema,
  previous: chainStateSchema.nullable(),
});
export type LoadResult = z.infer<typeof loadResultSchema>;

/** POST /v1/devices/{id}/flash */
export const flashResultSchema = z.object({
  status: z.enum(['already_active', 'already_staged', 'staged', 'committed', 'fell_back', 'failed']),
  deviceId: z.string(),
  slot: z.string().nullable(),
  /** False when the image was already in place and nothing was written. */
  wrote: z.boolean(),
  reason: z.string().optional(),
  durationMs: z.number(),
  firmware: firmwareStateSchema,
});
export type FlashResult = z.infer<typeof flashResultSchema>;

/** POST /v1/devices/{id}/rollback */
export const rollbackResultSchema = z.object({
  status: z.literal('rolled_back'),
  scope: z.enum(['program', 'firmware']),
  deviceId: z.string(),
  port: z.number().optional(),
  current: chainStateSchema.nullable(),
  firmware: firmwareStateSchema.optional(),
});
export type RollbackResult = z.infer<typeof rollbackResultSchema>;

/** POST /v1/devices/{id}/commit */
export const commitResultSchema = z.object({
  status: z.enum(['committed', 'nothing_to_commit']),
  deviceId: z.string(),
  port: z.number(),
  current: chainStateSchema.nullable(),
});
export type CommitResult = z.infer<typeof commitResultSchema>;

/** POST /v1/devices/{id}/detach */
export const detachResultSchema = z.object({ status: z.enum(['detached', 'not_attached']), deviceId: z.string(), port: z.number() });
export type DetachResult = z.infer<typeof detachResultSchema>;

/** A vector run on the live program of the module's slot in the hook's running chain. */
export const deployedRunSchema = z.object({
  /** The root the hook's link runs (read from the link, not from what the agent wrote down). */
  rootProgId: z.number(),
  /** The module's slot in that root's program array (-1: the root is the module itself). */
  slot: z.number(),
  /** The program that slot holds, which the vector ran. */
  progId: z.number(),
  /** Whether the output bytes were compared: only where they are the module's own (its verdict ended the chain, or no slot follows). */
  outputCompared: z.boolean(),
});
export type DeployedRun = z.infer<typeof deployedRunSchema>;

export const vectorOutcomeSchema = z.object({
  name: z.string(),
  passed: z.boolean(),
  expectedVerdict: z.enum(XDP_ACTIONS),
  /** `XDP_*`, `UNKNOWN(n)` for other return values, `NOT_RUN` when the vector could not run. */
  actualVerdict: z.string(),
  expectedOutputHex: z.string().optional(),
  actualOutputHex: z.string().optional(),
  /** Measured kernel run time per packet; 0 when the vector could not run. */
  nsPerPacket: z.number(),
  harnessNsPerPacket: z.number().optional(),
  reason: z.string().optional(),
  module: z.string(),
  /** True when no kernel ran the packet (emulated device without BPF_PROG_TEST_RUN). */
  emulated: z.boolean(),
  /**
   * The vector did not run (no kernel on this agent): `passed` is false and `reason` says why.
   * Never reported as passed; a rollout accepts it only where the placement's policy says so.
   */
  notRun: z.boolean().optional(),
  /** Where it ran when it ran on the deployed chain (absent: on a copy of the module, or not in a kernel). */
  deployed: deployedRunSchema.optional(),
});
export type VectorOutcome = z.infer<typeof vectorOutcomeSchema>;

/** POST /v1/devices/{id}/run-vectors */
export const vectorsResultSchema = z.object({ deviceId: z.string(), passed: z.boolean(), results: z.array(vectorOutcomeSchema) });
export type VectorsResult = z.infer<typeof vectorsResultSchema>;

export const moduleCountersSchema = z.object({
  module: z.string(),
  port: z.number(),
  packets: z.number(),
  bytes: z.number(),
  drops: z.number(),
  /**
   * Host CPU nanoseconds spent in the program; null when unknown or not on the host CPU. Source
   * `chain`: timed by the chain epilogue, from the hand-off to this slot to its verdict.
   */
  cpuNs: z.number().nullable(),
  /** `chain`: the hook's counter map, written by the module's chain epilogue (packets it received and its verdicts). */
  source: z.enum(['chain', 'dispatcher', 'prog-stats', 'interface', 'flow-table', 'flower', 'emulated']),
  /** Slot of the module in its hook's chain (source `chain`). */
  slot: z.number().optional(),
  /** Packets the module passed on (to the next slot, or to the stack after the last); source `chain`. */
  passed: z.number().optional(),
  /** Packets the module sent elsewhere (XDP_TX, XDP_REDIRECT); source `chain`. */
  other: z.number().optional(),
  /** Sums of the module's small array maps (counters), by map name. */
  maps: z.record(z.string(), z.number()).optional(),
});
export type ModuleCounters = z.infer<typeof moduleCountersSchema>;

/** What entered a hook that runs a tail-call chain, from the root's row of the hook counter map. */
export const hookCountersSchema = z.object({
  port: z.number(),
  interface: z.string(),
  packets: z.number(),
  bytes: z.number(),
  /** Packets the root found no module for (an empty chain): passed to the stack unjudged. */
  missed: z.number(),
  /** Host CPU nanoseconds in the whole chain (the root's run time includes every tail-called module); null when stats are off. */
  cpuNs: z.number().nullable(),
});
export type HookCounters = z.infer<typeof hookCountersSchema>;

/** GET /v1/devices/{id}/counters */
export const deviceCountersSchema = z.object({
  deviceId: z.string(),
  at: z.string(),
  modules: z.array(moduleCountersSchema),
  /**
   * Hooks with a tail-call chain. Counter rows belong to the hook's slots and keep counting across
   * chain changes; compare two readings taken under the same `chainDigest`.
   */
  hooks: z.array(hookCountersSchema).optional(),
});
export type DeviceCounters = z.infer<typeof deviceCountersSchema>;

/** What a device's hooks can chain: how, and how many modules one hook holds. */
export const chainCapabilitySchema = z.object({
  mechanism: chainSupportSchema,
  /** Modules one hook can run, as this kernel really allows (1 when it cannot chain). */
  slotsPerHook: z.number(),
});
export type ChainCapability = z.infer<typeof chainCapabilitySchema>;

export const deviceInventorySchema = z.object({
  device: deviceSchema,
  driver: driverKindSchema,
  profileId: z.string().nullable(),
  targets: z.array(target),
  ports: z.number(),
  /** Modules one hook (per port) can hold; equals `chain.slotsPerHook` where the driver reports `chain`. */
  programSlotsPerPort: z.number(),
  /** Host XDP drivers: the chain mechanism the kernel probe found and the real slots per hook. */
  chain: chainCapabilitySchema.optional(),
  /**
   * Modules each hook of a port holds, as this driver enforces it (the kernel's chaining for host
   * XDP, the profile's programs per port for an emulated card). Flow hooks hold rules and are absent.
   */
  hookSlots: z.partialRecord(z.enum(HOOKS), z.number()).optional(),
  /** Emulated flow offload on a stage: what holds a module's rules on this kernel (probed at start): tc-flower, or the BPF flow table without cls_flower. */
  flowEngine: flowEngine.optional(),
  firmware: firmwareStateSchema.nullable(),
});
export type DeviceInventory = z.infer<typeof deviceInventorySchema>;

/** One netdev of the host, as `ip -j link` and `ethtool -i` describe it. */
export const hostInterfaceSchema = z.object({
  name: z.string(),
  ifindex: z.number(),
  mac: z.string().nullable(),
  operState: z.string(),
  /** `veth`, `bond`, ... from `ip -d`; null for a plain physical port. */
  kind: z.string().nullable(),
  /** The bond or bridge this interface is enslaved to. */
  master: z.string().nullable(),
  /** XDP program ids attached now (any mode). */
  xdpProgIds: z.array(z.number()),
  /** From `ethtool -i`; null where the driver answers nothing (loopback, some virtual links). */
  driver: z.string().nullable(),
  driverVersion: z.string().nullable(),
  firmwareVersion: z.string().nullable(),
  busInfo: z.string().nullable(),
});
export type HostInterface = z.infer<typeof hostInterfaceSchema>;

/** GET /v1/inventory */
export const inventoryResponseSchema = z.object({
  agentId: z.string(),
  hostname: z.string(),
  mode: z.enum(['kernel', 'emulated']),
  modeReason: z.string().nullable(),
  /** The host's netdevs (`ip -j link`, `ethtool -i`), when the agent acts on host interfaces; null with a reason when they could not be read. */
  interfaces: z.array(hostInterfaceSchema).nullable().optional(),
  interfacesReason: z.string().nullable().optional(),
  devices: z.array(z.union([deviceInventorySchema, z.object({ device: deviceSchema, driver: z.null(), reason: z.string() })])),
});
export type AgentInventory = z.infer<typeof inventoryResponseSchema>;

/** GET /healthz */
export const healthResponseSchema = z.object({ ok: z.literal(true), agentId: z.string(), mode: z.string() });
export type AgentHealth = z.infer<typeof healthResponseSchema>;

/** POST /v1/devices/{id}/probe */
export const probeResultSchema = z.object({ deviceId: z.string(), port: z.number(), sent: z.number() });
export type ProbeResult = z.infer<typeof probeResultSchema>;

/** Every error: `{error: {code, message, field?, details?}}`. */
export const agentErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), field: z.string().optional(), details: z.unknown().optional() }),
});
export type AgentErrorBody = z.infer<typeof agentErrorBodySchema>;
