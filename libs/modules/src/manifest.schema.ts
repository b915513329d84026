import { z } from 'zod';
import { IoModule, XDP_ACTIONS, type MatchActionForm } from '@ioplane/domain';

/** A map entry the test runner writes before running vectors; bytes exactly as the kernel stores them. */
export interface MapSeed {
  /** Map name as declared in the source (`} name SEC(".maps")`). */
  map: string;
  /** Key bytes in hex, in memory order (host-endian integers, network-order addresses as on the wire). */
  key: string;
  /** Value bytes in hex, same encoding as `key`. */
  value: string;
}

/**
 * Program types a module may name for its program, spelled as libbpf spells section names (and as
 * `bpftool prog load ... type` takes them): the hooks ioplane deploys to.
 */
export const PROGRAM_TYPES = [
  'xdp',
  'xdp.frags',
  'xdp/devmap',
  'xdp/cpumap',
  'xdp.frags/devmap',
  'xdp.frags/cpumap',
  'tc',
  'tc/ingress',
  'tc/egress',
  'tcx/ingress',
  'tcx/egress',
  'classifier',
  'action',
] as const;
export type ProgramTypeName = (typeof PROGRAM_TYPES)[number];

/** IoModule plus what the catalog needs to make its test vectors meaningful. */
export interface ModuleManifest extends IoModule {
  /** Entries written into the module's maps after load and before the first vector. */
  seed?: MapSeed[];
  /**
   * The deployed program's type, for objects whose section name libbpf does not know (iproute2-style
   * custom sections); without it such a program is `unknown`. A known section's own type is used otherwise.
   */
  type?: ProgramTypeName;
  /** The module as flow rules (tc-flower), for flow-offload targets; absent: not placeable there. */
  matchAction?: MatchActionForm;
}

// semver.org's recommended pattern (2.0.0), anchored.
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
export const MODULE_NAME = /^[a-z][a-z0-9-]*$/;
const C_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

const nonEmpty = z.string().trim().min(1, { error: 'must not be empty' });
const hexBytes = z
  .string()
  .regex(/^[0-9a-fA-F]*$/, { error: 'must contain only hex digits (no spaces or 0x)' })
  .refine((s) => s.length % 2 === 0, { error: 'must have an even number of hex digits (whole bytes)' });
const nonEmptyHex = hexBytes.refine((s) => s.length > 0, { error: 'must not be empty' });
const port = z.int().min(0).max(0xffff);
const ipv4 = z
  .string()
  .regex(/^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/, { error: 'must be a dotted IPv4 address' });
const mac = z.string().regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, { error: 'must be a MAC address like 02:00:00:00:00:01' });

const packetFieldsSchema = z.strictObject({
  ethSrc: mac.optional(),
  ethDst: mac.optional(),
  vlan: z.int().min(0).max(4095).optional(),
  ipSrc: ipv4,
  ipDst: ipv4,
  proto: z.union([z.enum(['tcp', 'udp', 'icmp']), z.int().min(0).max(255)], {
    error: 'must be tcp, udp, icmp or an IP protocol number 0..255',
  }),
  srcPort: port.optional(),
  dstPort: port.optional(),
  ttl: z.int().min(0).max(255).optional(),
  payloadHex: hexBytes.optional(),
  vxlan: z.strictObject({ vni: z.int().min(0).max(0xffffff), outerIpSrc: ipv4, outerIpDst: ipv4 }).optional(),
});

// One object with both keys optional (not a zod union) so a bad `hex` is reported at `input.hex`
// instead of as "no union branch matched".
const inputSchema = z
  .strictObject({ hex: nonEmptyHex.optional(), fields: packetFieldsSchema.optional() })
  .superRefine((v, ctx) => {
    if ((v.hex === undefined) === (v.fields === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'must have exactly one of hex or fields', path: [] });
    }
  })
  .transform((v) => (v.hex !== undefined ? { hex: v.hex } : { fields: v.fields! }));

const vectorSchema = z.strictObject({
  name: nonEmpty,
  input: inputSchema,
  expect: z.strictObject({ verdict: z.enum(XDP_ACTIONS), outputHex: nonEmptyHex.optional() }),
  repeat: z.int().min(0).max(1_000_000).optional(),
});

const seedSchema = z.strictObject({
  map: z.string().regex(C_IDENT, { error: 'must be a C identifier (the map name in the source)' }),
  key: nonEmptyHex,
  value: nonEmptyHex,
});

export const moduleManifestSchema = z.strictObject({
  name: z.string().regex(MODULE_NAME, { error: 'must be lowercase letters, digits and dashes, starting with a letter' }),
  version: z.string().regex(SEMVER, { error: 'must be a semantic version like 1.2.0' }),
  description: nonEmpty,
  sources: z.array(z.string().regex(/^[A-Za-z0-9_.-]+\.(c|h)$/, { error: 'must be a .c or .h file name inside the module folder' })).min(1),
  program: z.string().regex(/^[A-Za-z_][A-Za-z0-9_./-]*$/, { error: 'must be an ELF section name (e.g. xdp) or a function name' }),
  type: z.enum(PROGRAM_TYPES, { error: `must be a program type: ${PROGRAM_TYPES.join(', ')}` }).optional(),
  traffic: z.strictObject({
    pps: z.number().finite().positive(),
    meanPacketBytes: z.int().min(14).max(65535),
    // Expected share of packets passed on to the next module of a chain (placement rates).
    passRatio: z.number().min(0).max(1).optional(),
  }),
  latencyBudgetUs: z.number().finite().positive(),
  hints: z.strictObject({
    prefer: z.enum(['auto', 'host', 'nic', 'dpu']),
    persistentMaps: z.array(z.string().regex(C_IDENT, { error: 'must be a C identifier (the map name in the source)' })),
  }),
  vectors: z.array(vectorSchema).min(1),
  seed: z.array(seedSchema).optional(),
  matchAction: z
    .strictObject({
      rules: z
        .array(
          z.strictObject({
            match: z.strictObject({
              proto: z.enum(['tcp', 'udp', 'icmp']).optional(),
              srcIp: z
                .string()
                .regex(/^(\d{1,3}\.){3}\d{1,3}(\/\d{1,2})?$/, { error: 'must be an IPv4 prefix like 203.0.113.0/24' })
                .optional(),
              dstIp: z
                .string()
                .regex(/^(\d{1,3}\.){3}\d{1,3}(\/\d{1,2})?$/, { error: 'must be an IPv4 prefix like 203.0.113.0/24' })
                .optional(),
              srcPort: port.optional(),
              dstPort: port.optional(),
            }),
            action: z.enum(['drop', 'pass']),
          }),
        )
        .min(1),
      vlan: z.boolean().optional(),
    })
    .optional(),
});

/** Compile-time proof that what the schema returns is a ModuleManifest. */
export function asManifest(parsed: z.output<typeof moduleManifestSchema>): ModuleManifest {
  return parsed;
}
