import { z } from 'zod';
import { FirmwareProfile, TARGETS } from '@ioplane/domain';

/** Host kernel ceilings (devices.md): no device may promise more than the host verifier accepts. */
export const HOST_MAX_INSTRUCTIONS = 1_000_000;
export const HOST_STACK_BYTES = 512;

/** Flash tools ioplane knows how to drive (or `none`: never flashed by ioplane). */
export const FLASH_TOOLS = ['nfp-fw-load', 'mlxfwmanager', 'bfb-install', 'devlink-flash', 'none'] as const;

export const PROFILE_KINDS = ['smartnic', 'dpu', 'nic'] as const;

const ATOMICS = ['none', 'add', 'all'] as const;

const hex4 = z.string().regex(/^[0-9a-f]{4}$/, { error: 'must be 4 lowercase hex digits, quoted (e.g. "19ee")' });
const nonEmpty = z.string().trim().min(1, { error: 'must not be empty' });
const count = z.int().min(0);
const seconds = z.number().finite().min(0);
const positive = z.number().finite().positive();

const ATTACH_TYPE = z.string().regex(/^[A-Z][A-Z0-9_]*$/, { error: 'must be a bpf_attach_type name without BPF_, e.g. XDP_DEVMAP' });
const bytes = z.int().min(1).max(4096);

/** A driver's own offload checks (see OffloadRules in @ioplane/domain). */
const offloadSchema = z.strictObject({
  driver: nonEmpty,
  refusedAttachTypes: z.array(ATTACH_TYPE),
  neutralMapTypes: z.array(z.int().min(1).max(63)),
  entryRounding: z.int().min(1).max(64),
  maxKeyBytes: bytes.nullable(),
  maxValueBytes: bytes.nullable(),
  mapValueStores: z.boolean(),
  atomicsOnMapValuesOnly: z.boolean(),
  ctxReadOffsets: z.array(z.int().min(0).max(1023)),
  ctxReadBytes: z.union([z.literal(1), z.literal(2), z.literal(4), z.literal(8)]),
  ctxWriteOffsets: z.array(z.int().min(0).max(1023)),
  mulDivMaxBits: z.union([z.literal(32), z.literal(64)]),
  divisorConstant: z.boolean(),
  mapArgsOnStack: z.boolean(),
  stackArgAlign: z.union([z.literal(1), z.literal(2), z.literal(4), z.literal(8)]),
  perfEventCurrentCpu: z.boolean(),
  stackFrameAlign: z.int().min(1).max(512),
  callFrameBytes: z.int().min(0).max(64),
  calleeSavedBytes: z.int().min(0).max(128),
});

const limitsSchema = z.strictObject({
  maxInstructions: count.max(HOST_MAX_INSTRUCTIONS),
  instructionExpansion: positive.max(64),
  programSlotsPerPort: count.max(64),
  ports: z.int().min(1).max(64),
  stackBytes: count.max(HOST_STACK_BYTES),
  helpers: z.array(z.int().min(1).max(1023)).nullable(),
  mapTypes: z.array(z.int().min(1).max(63)).nullable(),
  mapMemoryBytes: count,
  maxMapEntries: count,
  maxEntryBytes: count.nullable(),
  mapFlagsAllowed: z.boolean(),
  refusedOpcodes: z.array(z.int().min(0).max(255)),
  tailCalls: z.boolean(),
  bpfToBpfCalls: z.boolean(),
  atomics: z.enum(ATOMICS),
  xdpActions: z.array(z.int().min(0).max(4)),
  flowRules: count,
  offload: offloadSchema.optional(),
});

const throughputSchema = z.strictObject({
  lineRateGbps: positive.max(1600),
  basePps: positive,
  nsPerInsn: z.number().finite().min(0),
  latencyUs: z.number().finite().min(0),
  armCores: z.int().min(1).max(256).optional(),
  armSlowdown: z.number().finite().min(1).max(100).optional(),
  /** Host ns the port's driver spends receiving a packet (placement charges it to host hooks). */
  rxNsPerPacket: z.number().finite().min(0).max(10_000).optional(),
  /** Host ns generic XDP adds per packet on this card's netdevs (skb built before the program). */
  skbNsPerPacket: z.number().finite().min(0).max(10_000).optional(),
});

const flashSchema = z.strictObject({
  tool: z.enum(FLASH_TOOLS),
  writeSeconds: seconds,
  activateSeconds: seconds,
  capabilities: z.strictObject({
    dualImage: z.boolean(),
    needsReboot: z.boolean(),
    needsActivation: z.boolean(),
    canVerify: z.boolean(),
    usableDuringUpdate: z.boolean(),
  }),
  slots: z.array(nonEmpty),
});

const baseSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, { error: 'must be lowercase letters, digits, dots and dashes' }),
  vendor: nonEmpty,
  model: nonEmpty,
  kind: z.enum(PROFILE_KINDS),
  firmware: z.strictObject({ version: nonEmpty, flavour: nonEmpty }),
  pci: z.strictObject({ vendorId: hex4, productIds: z.array(hex4).min(1) }),
  firmwareVersions: z.array(nonEmpty),
  targets: z.array(z.enum(TARGETS)).min(1),
  limits: limitsSchema,
  throughput: throughputSchema,
  flash: flashSchema,
  flavourOf: z.string().min(1).optional(),
});

type Draft = z.infer<typeof baseSchema>;
type Issue = { path: (string | number)[]; message: string };

function firstDuplicate<T>(xs: T[]): number {
  return xs.findIndex((x, i) => xs.indexOf(x) !== i);
}

/** Rules that span fields: each target must be backed by the limits and kind it needs. */
function crossFieldIssues(p: Draft): Issue[] {
  const out: Issue[] = [];
  const has = (t: (typeof TARGETS)[number]) => p.targets.includes(t);
  const dup = (path: (string | number)[], xs: unknown[]) => {
    const i = firstDuplicate(xs);
    if (i >= 0) out.push({ path: [...path, i], message: `duplicate value ${JSON.stringify(xs[i])}` });
  };
  dup(['targets'], p.targets);
  dup(['pci', 'productIds'], p.pci.productIds);
  dup(['firmwareVersions'], p.firmwareVersions);
  dup(['flash', 'slots'], p.flash.slots);
  if (p.limits.helpers) dup(['limits', 'helpers'], p.limits.helpers);
  if (p.limits.mapTypes) dup(['limits', 'mapTypes'], p.limits.mapTypes);
  if (p.limits.offload) {
    dup(['limits', 'offload', 'neutralMapTypes'], p.limits.offload.neutralMapTypes);
    p.limits.offload.neutralMapTypes.forEach((t, i) => {
      if (p.limits.mapTypes?.includes(t))
        out.push({
          path: ['limits', 'offload', 'neutralMapTypes', i],
          message: `map type ${t} is listed in mapTypes too; a neutral map stays on the host`,
        });
    });
  }
  dup(['limits', 'xdpActions'], p.limits.xdpActions);

  p.targets.forEach((t, i) => {
    if (t.startsWith('dpu-') && p.kind !== 'dpu') out.push({ path: ['targets', i], message: `${t} needs kind dpu, not ${p.kind}` });
    if (t === 'nic-xdp-offload' && p.kind !== 'smartnic')
      out.push({ path: ['targets', i], message: `${t} needs kind smartnic, not ${p.kind}` });
  });
  const runsXdp = p.targets.some((t) => t !== 'nic-flow-offload' && t !== 'dpu-flow-offload');
  if (runsXdp) {
    if (p.limits.maxInstructions < 1)
      out.push({ path: ['limits', 'maxInstructions'], message: 'must be >= 1 when an XDP target is listed' });
    if (p.limits.programSlotsPerPort < 1)
      out.push({ path: ['limits', 'programSlotsPerPort'], message: 'must be >= 1 when an XDP target is listed' });
    if (p.limits.xdpActions.length === 0)
      out.push({ path: ['limits', 'xdpActions'], message: 'must not be empty when an XDP target is listed' });
  }
  if ((has('nic-flow-offload') || has('dpu-flow-offload')) && p.limits.flowRules < 1) {
    out.push({ path: ['limits', 'flowRules'], message: 'must be >= 1 when a flow-offload target is listed' });
  }
  if (has('dpu-arm-xdp')) {
    if (p.throughput.armCores === undefined) out.push({ path: ['throughput', 'armCores'], message: 'is required for target dpu-arm-xdp' });
    if (p.throughput.armSlowdown === undefined)
      out.push({ path: ['throughput', 'armSlowdown'], message: 'is required for target dpu-arm-xdp' });
  }
  const { capabilities, slots, tool } = p.flash;
  if (capabilities.dualImage && slots.length < 2)
    out.push({ path: ['flash', 'slots'], message: 'must name at least 2 slots when capabilities.dualImage is true' });
  if (!capabilities.dualImage && slots.length > 0)
    out.push({ path: ['flash', 'slots'], message: 'must be empty when capabilities.dualImage is false' });
  if (tool === 'none' && (p.flash.writeSeconds > 0 || p.flash.activateSeconds > 0)) {
    out.push({ path: ['flash', 'writeSeconds'], message: 'must be 0 (with activateSeconds) when tool is none' });
  }
  if (p.flavourOf === p.id) out.push({ path: ['flavourOf'], message: 'must name another profile, not itself' });
  return out;
}

/**
 * A firmware profile as written in `firmware-profiles/<id>.yaml` (camelCase keys, the
 * domain's field names). Unknown keys are refused so a typo cannot silently drop a limit.
 */
export const firmwareProfileSchema = baseSchema.superRefine((p, ctx) => {
  for (const issue of crossFieldIssues(p)) ctx.addIssue({ code: 'custom', path: issue.path, message: issue.message });
});

// Compile-time proof that a parsed profile is the domain type.
const _assignable: (p: z.output<typeof firmwareProfileSchema>) => FirmwareProfile = (p) => p;
void _assignable;
