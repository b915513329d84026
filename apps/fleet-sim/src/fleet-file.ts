import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parse as parseYaml } from 'yaml';
import { DPU_MODEL_KEYS, NIC_MODEL_KEYS } from '@ioplane/domain';

/** Statuses a machine may start in; transient ones would need a timer nobody started. */
export const INITIAL_STATUSES = ['new', 'ready', 'allocated', 'deployed', 'broken', 'failed_deployment', 'failed_testing'] as const;
export type InitialStatus = (typeof INITIAL_STATUSES)[number];

const name = z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'must be lowercase letters, digits, "-" or "_"');
const hostname = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,50}[a-z0-9])?$/, 'must be a DNS label (lowercase letters, digits, "-")');

const asModel = (v: unknown) => (typeof v === 'string' ? { model: v } : v);

const nicEntry = z.preprocess(
  asModel,
  z.strictObject({
    model: z.enum(NIC_MODEL_KEYS),
    /** Overrides the model's default firmware, e.g. to stage an old version. */
    firmware: z.string().min(1).optional(),
    ports: z.number().int().min(1).max(4).optional(),
  }),
);

const dpuEntry = z.preprocess(
  asModel,
  z.strictObject({
    model: z.enum(DPU_MODEL_KEYS),
    firmware: z.string().min(1).optional(),
    status: z.enum(INITIAL_STATUSES).optional(),
    tags: z.array(name).optional(),
  }),
);

const server = z.strictObject({
  vendor: z.string().min(1),
  product: z.string().min(1),
  family: z.string().min(1).default('Unknown'),
  cpuModel: z.string().min(1),
  cores: z.number().int().min(1).max(1024),
  mhz: z.number().int().min(100).max(10000),
  memoryGiB: z.number().positive().max(65536),
  sockets: z.number().int().min(1).max(8).default(1),
  diskGB: z.number().int().min(1).default(960),
  powerType: z.string().min(1).default('ipmi'),
});

const host = z.strictObject({
  hostname,
  zone: name,
  pool: name,
  tags: z.array(name).default([]),
  status: z.enum(INITIAL_STATUSES).optional(),
  owner: z.string().min(1).optional(),
  description: z.string().default(''),
  server: z.string().min(1).optional(),
  cores: z.number().int().min(1).max(1024).optional(),
  memoryGiB: z.number().positive().max(65536).optional(),
  nics: z.array(nicEntry).min(1),
  dpus: z.array(dpuEntry).default([]),
  /** Interfaces linked to the zone's data subnet (the boot interface is linked to the management subnet anyway). */
  uplinks: z.array(z.string().regex(/^[a-z0-9]{1,15}$/, { error: 'must be an interface name' })).default([]),
});

const seconds = z.number().min(0).max(3600);

export const fleetFileSchema = z.strictObject({
  domain: name.default('maas'),
  /** The MAAS user the simulator's API key belongs to. */
  user: z.string().min(1).default('admin'),
  defaults: z
    .strictObject({
      status: z.enum(INITIAL_STATUSES).default('deployed'),
      owner: z.string().min(1).optional(),
      distroSeries: z.string().min(1).default('jammy'),
      server: z.string().min(1).optional(),
      dpuTags: z.array(name).default([]),
    })
    .prefault({}),
  /** Seconds each transition takes before timeScale. */
  timings: z
    .strictObject({
      deploy: seconds.default(8),
      release: seconds.default(3),
      diskErase: seconds.default(4),
      commission: seconds.default(6),
      test: seconds.default(3),
      rescue: seconds.default(2),
    })
    .prefault({}),
  zones: z.array(z.strictObject({ name, description: z.string().default('') })).min(1),
  pools: z.array(z.strictObject({ name, description: z.string().default('') })).min(1),
  tags: z
    .array(
      z.strictObject({ name, comment: z.string().default(''), definition: z.string().default(''), kernelOpts: z.string().default('') }),
    )
    .default([]),
  servers: z.record(z.string(), server).default({}),
  hosts: z.array(host).min(1),
});

export type FleetFile = z.infer<typeof fleetFileSchema>;
export type FleetHost = FleetFile['hosts'][number];
export type FleetServer = z.infer<typeof server>;

export type FleetFileErrorCode = 'FLEET_UNREADABLE' | 'FLEET_YAML' | 'FLEET_INVALID';

/** Names the file and the field (dotted path) so an operator can find the line to fix. */
export class FleetFileError extends Error {
  constructor(
    readonly code: FleetFileErrorCode,
    readonly file: string,
    readonly field: string,
    readonly detail: string,
  ) {
    super(`${file}: ${field ? `${field}: ` : ''}${detail}`);
    this.name = 'FleetFileError';
  }
}

function fieldPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>((acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)), '');
}

export function parseFleetFile(text: string, file = '<fleet>'): FleetFile {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new FleetFileError('FLEET_YAML', file, '', `not valid YAML: ${(e as Error).message}`);
  }
  const parsed = fleetFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new FleetFileError('FLEET_INVALID', file, fieldPath(issue.path), issue.message);
  }
  checkReferences(parsed.data, file);
  return parsed.data;
}

export function loadFleetFile(path: string): FleetFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new FleetFileError('FLEET_UNREADABLE', path, '', (e as Error).message);
  }
  return parseFleetFile(text, path);
}

function checkReferences(f: FleetFile, file: string): void {
  const fail = (field: string, detail: string): never => {
    throw new FleetFileError('FLEET_INVALID', file, field, detail);
  };
  const dupes = (list: string[], field: string) => {
    const seen = new Set<string>();
    list.forEach((n, i) => (seen.has(n) ? fail(`${field}[${i}].name`, `duplicate name '${n}'`) : seen.add(n)));
    return seen;
  };
  const zones = dupes(
    f.zones.map((z) => z.name),
    'zones',
  );
  const pools = dupes(
    f.pools.map((p) => p.name),
    'pools',
  );
  const tags = dupes(
    f.tags.map((t) => t.name),
    'tags',
  );
  if (f.defaults.server && !f.servers[f.defaults.server]) fail('defaults.server', `unknown server '${f.defaults.server}'`);
  f.defaults.dpuTags.forEach((t, i) => tags.has(t) || fail(`defaults.dpuTags[${i}]`, `unknown tag '${t}' (declare it under tags)`));
  const hostnames = new Set<string>();
  const perZone = new Map<string, number>();
  f.hosts.forEach((h, i) => {
    const at = `hosts[${i}]`;
    if (!zones.has(h.zone)) fail(`${at}.zone`, `unknown zone '${h.zone}'`);
    if (!pools.has(h.pool)) fail(`${at}.pool`, `unknown pool '${h.pool}'`);
    h.tags.forEach((t, j) => tags.has(t) || fail(`${at}.tags[${j}]`, `unknown tag '${t}' (declare it under tags)`));
    h.dpus.forEach((d, j) => (d.tags ?? []).forEach((t, k) => tags.has(t) || fail(`${at}.dpus[${j}].tags[${k}]`, `unknown tag '${t}'`)));
    if (h.server && !f.servers[h.server]) fail(`${at}.server`, `unknown server '${h.server}'`);
    const names = [h.hostname, ...h.dpus.map((_, j) => `${h.hostname}-dpu${j}`)];
    names.forEach((n) => (hostnames.has(n) ? fail(`${at}.hostname`, `duplicate hostname '${n}'`) : hostnames.add(n)));
    const n = (perZone.get(h.zone) ?? 0) + 1;
    if (n > 99) fail(`${at}.zone`, `more than 99 hosts in zone '${h.zone}' (management addresses are 127.77.<zone>.1-99)`);
    perZone.set(h.zone, n);
  });
}

export { buildFleetModel } from './fleet-model';
export type { FleetModel, ModelMachine, ModelInterface, ModelZone, ModelPool, ModelTag } from './fleet-model';
