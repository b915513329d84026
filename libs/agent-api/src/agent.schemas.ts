import { z } from 'zod';
import { TARGETS, XDP_ACTIONS } from '@ioplane/domain';

/** The XDP hooks a plan may bind a chain to: the driver's own (native) or the kernel's generic one. */
export type XdpHook = 'xdp-native' | 'xdp-generic';
export const XDP_HOOKS: readonly XdpHook[] = ['xdp-native', 'xdp-generic'];

/** Faults the simulator's agents can inject per device (PUT /v1/faults). */
export const FAULT_KINDS = ['flashFails', 'hang', 'healthCheckFails'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/** `true` always fires; `next` fires on the next N chances; `probability` fires at random. */
export type FaultSpec = boolean | { next: number } | { probability: number };
export type DeviceFaults = Partial<Record<FaultKind, FaultSpec>>;

const digest = z.string().regex(/^[0-9a-f]{64}$/, 'must be a sha256 hex digest (64 lowercase hex characters)');
const base64 = z
  .string()
  .min(1)
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64');
const hex = z.string().regex(/^([0-9a-fA-F]{2})+$/, 'must be hex bytes');
const port = z.number().int().min(0).max(63).default(0);

const ipv4Prefix = z.string().regex(/^(\d{1,3}\.){3}\d{1,3}(\/\d{1,2})?$/, 'must be an IPv4 prefix like 203.0.113.0/24');
const l4port = z.number().int().min(0).max(65535);
/** A module's match-action form (MatchActionForm): what a flow-offload target installs. */
export const matchActionSchema = z.object({
  rules: z
    .array(
      z.object({
        match: z
          .object({
            proto: z.enum(['tcp', 'udp', 'icmp']).optional(),
            srcIp: ipv4Prefix.optional(),
            dstIp: ipv4Prefix.optional(),
            srcPort: l4port.optional(),
            dstPort: l4port.optional(),
          })
          .strict(),
        action: z.enum(['drop', 'pass']),
      }),
    )
    .min(1)
    .max(1024),
  vlan: z.boolean().optional(),
});

export const moduleArtifactSchema = z.object({
  name: z.string().min(1).max(64),
  version: z.string().min(1).max(64),
  digest,
  /** ed25519 over the raw sha256 digest, base64. */
  signature: base64,
  /** The BPF object, base64. */
  object: base64,
  program: z.string().min(1).max(128),
  persistentMaps: z.array(z.string().min(1).max(64)).max(32).default([]),
  pps: z.number().nonnegative().optional(),
  /** The module's rules for flow-offload targets. */
  matchAction: matchActionSchema.optional(),
});

export const loadBodySchema = z.object({
  target: z.enum(TARGETS),
  port,
  /** In packet order; several become one chain on the port's hook (up to the inventory's slots per hook). */
  modules: z.array(moduleArtifactSchema).min(1).max(32),
  /** Optional: the hook the plan chose; binding when given (no fallback from native to generic). */
  hook: z.enum(XDP_HOOKS as [XdpHook, ...XdpHook[]]).optional(),
  /** Optional: the interface the plan names for this port; refused when the port is another one. */
  interface: z.string().min(1).max(15).optional(),
});

export const portBodySchema = z.object({ port }).default({ port: 0 });

export const probeBodySchema = z
  .object({ port, packets: z.number().int().min(1).max(10_000).default(50) })
  .default({ port: 0, packets: 50 });

export const rollbackBodySchema = z
  .object({ port, scope: z.enum(['program', 'firmware']).default('program') })
  .default({ port: 0, scope: 'program' });

export const flashBodySchema = z.object({
  image: z.object({
    profileId: z.string().min(1).max(128),
    version: z.string().min(1).max(64),
    digest,
    signature: base64,
    /** Image bytes, base64; when present their sha256 must equal `digest`. */
    bytes: base64.optional(),
  }),
  activate: z.boolean().default(true),
});

export const vectorsBodySchema = z.object({
  port,
  vectors: z
    .array(
      z.object({
        module: z.string().min(1).optional(),
        name: z.string().min(1).max(200),
        packetHex: hex,
        expectVerdict: z.enum(XDP_ACTIONS),
        expectOutputHex: hex.optional(),
        repeat: z.number().int().min(0).max(100_000).optional(),
      }),
    )
    .min(1)
    .max(256),
});

const faultSpec = z.union([
  z.boolean(),
  z.object({ next: z.number().int().min(0) }).strict(),
  z.object({ probability: z.number().min(0).max(1) }).strict(),
]);
export const deviceFaultsSchema = z
  .object(
    Object.fromEntries(FAULT_KINDS.map((k) => [k, faultSpec.optional()])) as Record<
      (typeof FAULT_KINDS)[number],
      z.ZodOptional<typeof faultSpec>
    >,
  )
  .strict();
/** Each device named replaces that device's faults; null clears them. */
export const faultsBodySchema = z.object({ devices: z.record(z.string().min(1), deviceFaultsSchema.nullable()) });

export type ModuleArtifactWire = z.input<typeof moduleArtifactSchema>;
export type LoadBody = z.input<typeof loadBodySchema>;
export type FlashBody = z.input<typeof flashBodySchema>;
export type VectorsBody = z.input<typeof vectorsBodySchema>;
export type FaultsBody = z.input<typeof faultsBodySchema>;

/** PUT /v1/faults answers every device's faults now in force. */
export const faultsResponseSchema = z.object({ devices: z.record(z.string(), deviceFaultsSchema) });
