import { createHash } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { MatchActionForm } from '@ioplane/domain';
import { loadToolchain, oncePerKey, runProcess } from '@ioplane/compiler';
import { DeviceError } from '../device.error';
import { bpftool } from './bpftool.run';

/** The tc BPF classifier that runs match-action forms in software (cls_bpf, direct action). */
export const FLOW_TABLE_SOURCE = resolve(__dirname, '..', '..', '..', '..', 'libs', 'devices', 'src', 'kernel', 'iop-flow-table.bpf.c');
/** IOP_FLOW_MODULES and IOP_FLOW_RULES of the source. */
export const FLOW_TABLE_MODULES = 32;
export const FLOW_TABLE_RULES = 1024;
/** The filter's priority on the stage's ingress: before any flower rule (FLOWER_BASE_PRIO) and the stage's forwarding. */
export const FLOW_TABLE_PRIO = 10;

const F_PROTO = 1;
const F_SPORT = 2;
const F_DPORT = 4;
const PROTO: Record<string, number> = { icmp: 1, tcp: 6, udp: 17 };
const IPV4 = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** A flow module as the table holds it: its name and its match-action form. */
export interface FlowModule {
  name: string;
  matchAction: MatchActionForm;
}

/** Map entries (key, value as little-endian hex byte lists) that load a chain of forms into the table. */
export interface FlowTableEntries {
  rules: { key: number; value: Buffer }[];
  modules: { key: number; value: Buffer }[];
  meta: Buffer;
}

function prefix(v: string, field: string): { addr: Buffer; mask: Buffer } {
  const [a, len = '32'] = v.split('/');
  const bits = Number(len);
  if (!IPV4.test(a) || !/^\d+$/.test(len) || bits > 32) throw new DeviceError('bad_object', `${v} is not an IPv4 prefix`, field);
  const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
  const addr = (a.split('.').reduce((n, o) => n * 256 + Number(o), 0) & mask) >>> 0;
  const out = { addr: Buffer.alloc(4), mask: Buffer.alloc(4) };
  // Network order, as the packet holds them: the program compares the raw words.
  out.addr.writeUInt32BE(addr);
  out.mask.writeUInt32BE(mask);
  return out;
}

/**
 * The table's entries for a port's flow modules in packet order: each module a contiguous run of
 * rules in its form's order (first match wins within a module). Refused before anything is
 * loaded when a rule cannot be expressed or the table is too small.
 */
export function flowTableEntries(modules: FlowModule[]): FlowTableEntries {
  if (modules.length > FLOW_TABLE_MODULES)
    throw new DeviceError(
      'slot_limit',
      `the flow table holds ${FLOW_TABLE_MODULES} modules per port; the chain has ${modules.length}`,
      'modules',
    );
  const rules: FlowTableEntries['rules'] = [];
  const mods: FlowTableEntries['modules'] = [];
  for (const [k, m] of modules.entries()) {
    const first = rules.length;
    for (const [i, r] of m.matchAction.rules.entries()) {
      const field = `modules[${k}].matchAction.rules.${i}.match`;
      const x = r.match;
      if ((x.srcPort !== undefined || x.dstPort !== undefined) && x.proto !== 'tcp' && x.proto !== 'udp')
        throw new DeviceError('bad_object', `module ${m.name} rule ${i}: ports need proto tcp or udp`, field);
      const v = Buffer.alloc(24);
      const src = prefix(x.srcIp ?? '0.0.0.0/0', field);
      const dst = prefix(x.dstIp ?? '0.0.0.0/0', field);
      src.addr.copy(v, 0);
      src.mask.copy(v, 4);
      dst.addr.copy(v, 8);
      dst.mask.copy(v, 12);
      for (const [off, port] of [
        [16, x.srcPort],
        [18, x.dstPort],
      ] as const) {
        if (port === undefined) continue;
        if (!Number.isInteger(port) || port < 0 || port > 65535)
          throw new DeviceError('bad_object', `module ${m.name} rule ${i}: port ${port} out of range`, field);
        v.writeUInt16BE(port, off);
      }
      if (x.proto) v.writeUInt8(PROTO[x.proto], 20);
      v.writeUInt8((x.proto ? F_PROTO : 0) | (x.srcPort !== undefined ? F_SPORT : 0) | (x.dstPort !== undefined ? F_DPORT : 0), 21);
      v.writeUInt8(r.action === 'drop' ? 1 : 2, 22);
      rules.push({ key: rules.length, value: v });
    }
    const mv = Buffer.alloc(16);
    mv.writeUInt32LE(first, 0);
    mv.writeUInt32LE(rules.length - first, 4);
    mv.writeUInt32LE(m.matchAction.vlan ? 1 : 0, 8);
    mods.push({ key: k, value: mv });
  }
  if (rules.length > FLOW_TABLE_RULES)
    throw new DeviceError(
      'slot_limit',
      `the flow table holds ${FLOW_TABLE_RULES} rules per port; the chain has ${rules.length}`,
      'modules',
    );
  const meta = Buffer.alloc(8);
  meta.writeUInt32LE(modules.length, 0);
  return { rules, modules: mods, meta };
}

async function build(dir: string): Promise<string> {
  const source = readFileSync(FLOW_TABLE_SOURCE);
  const key = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const out = join(dir, `flow-table-${key}.o`);
  if (existsSync(out)) return out;
  await fsp.mkdir(dir, { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  // The project's own source, like the chain root: built with the project's clang flags, no upload involved.
  const tc = await loadToolchain('clang');
  const r = await runProcess(tc.clang, [...tc.flags, '-c', FLOW_TABLE_SOURCE, '-o', tmp], {
    timeoutMs: 60_000,
    env: { PATH: '/usr/bin:/bin' },
  });
  if (r.code !== 0) {
    await fsp.rm(tmp, { force: true });
    throw new DeviceError('kernel_failed', `building the flow table failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  }
  await fsp.rename(tmp, out);
  return out;
}

const buildOnce = oncePerKey(build);

/** Compiles the flow table once per source version into `dir`; the object's path. */
export function buildFlowTable(dir: string): Promise<string> {
  return buildOnce(dir);
}

const hexArgs = (b: Buffer): string[] => [...b].map((x) => x.toString(16).padStart(2, '0'));
const keyArgs = (k: number): string[] => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(k);
  return hexArgs(b);
};

async function mapUpdate(pin: string, key: number, value: Buffer): Promise<void> {
  const r = await bpftool(['map', 'update', 'pinned', pin, 'key', 'hex', ...keyArgs(key), 'value', 'hex', ...hexArgs(value)]);
  if (r.code !== 0) throw new DeviceError('kernel_failed', `filling the flow table (${pin}): ${r.stderr.trim()}`);
}

/**
 * Loads a fresh instance of the table into `dir` (program and maps pinned there) and fills it
 * with the chain's rules. Nothing runs it until it is attached, so no packet meets a half-filled table.
 */
export async function loadFlowTable(objectDir: string, dir: string, modules: FlowModule[]): Promise<void> {
  const entries = flowTableEntries(modules);
  const obj = await buildFlowTable(objectDir);
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true });
  try {
    const r = await bpftool(['prog', 'load', obj, join(dir, 'prog'), 'type', 'classifier', 'pinmaps', join(dir, 'maps')]);
    if (r.code !== 0)
      throw new DeviceError('kernel_refused', `the kernel refused the flow table: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    for (const e of entries.rules) await mapUpdate(join(dir, 'maps', 'iop_flow_rules'), e.key, e.value);
    for (const e of entries.modules) await mapUpdate(join(dir, 'maps', 'iop_flow_modules'), e.key, e.value);
    // The module count goes in last: until then the program passes every packet untouched.
    await mapUpdate(join(dir, 'maps', 'iop_flow_meta'), 0, entries.meta);
  } catch (e) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw e;
  }
}

type Dumped = {
  key: unknown;
  values?: { cpu: number; value: unknown }[];
  formatted?: { values?: { cpu: number; value: Record<string, number> | number }[] };
};

function leU64(bytes: string[], at: number): number {
  let v = 0n;
  for (let i = at + 7; i >= at; i--) v = (v << 8n) | BigInt(parseInt(bytes[i] ?? '0', 16));
  return Number(v);
}

async function perCpuRows(pin: string, fields: number): Promise<number[][] | null> {
  const r = await bpftool(['map', 'dump', 'pinned', pin, '-j']);
  if (r.code !== 0) return null;
  const rows = JSON.parse(r.stdout) as Dumped[];
  return rows.map((e) => {
    const per = (e.values ?? []).map((c) => c.value as string[]);
    return Array.from({ length: fields }, (_, k) => per.reduce((s, bytes) => s + leU64(bytes, k * 8), 0));
  });
}

export interface FlowModuleCounters {
  packets: number;
  bytes: number;
  drops: number;
  passed: number;
  /** Packets each of the module's rules matched, in the form's order. */
  ruleHits: number[];
}

/** Per module of the chain (in order): what the table counted, from its pinned maps. */
export async function readFlowTable(dir: string, modules: FlowModule[]): Promise<FlowModuleCounters[] | null> {
  const stats = await perCpuRows(join(dir, 'maps', 'iop_flow_stats'), 4);
  const hits = await perCpuRows(join(dir, 'maps', 'iop_flow_hits'), 1);
  if (!stats || !hits) return null;
  let rule = 0;
  return modules.map((m, k) => {
    const first = rule;
    rule += m.matchAction.rules.length;
    const [packets, bytes, drops, passed] = stats[k] ?? [0, 0, 0, 0];
    return { packets, bytes, drops, passed, ruleHits: hits.slice(first, rule).map((h) => h[0]) };
  });
}

const TC = ['/usr/sbin/tc', '/sbin/tc', '/usr/bin/tc'].find((p) => existsSync(p)) ?? 'tc';
const NSENTER = ['/usr/bin/nsenter', '/usr/sbin/nsenter', '/bin/nsenter'].find((p) => existsSync(p)) ?? 'nsenter';
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

/**
 * tc in a namespace. Through nsenter (network namespace only), not `tc -n`: `tc -n` remounts
 * /sys as `ip netns exec` does, which hides bpffs, so a pinned program could not be found.
 */
export async function tcIn(netns: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const r = await runProcess(NSENTER, [`--net=/run/netns/${netns}`, TC, ...args], { timeoutMs: 15_000, env: ENV });
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}

async function tcMust(netns: string, args: string[], what: string): Promise<void> {
  const r = await tcIn(netns, args);
  if (r.code !== 0) throw new DeviceError('kernel_refused', `${what}: tc ${args.join(' ')} in ${netns} failed: ${r.stderr.trim()}`);
}

/** Attaches (or atomically swaps in) the table pinned in `dir` at ingress of `dev`: one filter, replaced in place. */
export async function attachFlowTable(netns: string, dev: string, dir: string): Promise<void> {
  await tcMust(netns, ['qdisc', 'replace', 'dev', dev, 'clsact'], `preparing ${dev}`);
  await tcMust(
    netns,
    [
      'filter',
      'replace',
      'dev',
      dev,
      'ingress',
      'prio',
      String(FLOW_TABLE_PRIO),
      'handle',
      '1',
      'bpf',
      'da',
      'object-pinned',
      join(dir, 'prog'),
    ],
    `attaching the flow table to ${dev}`,
  );
}

export async function detachFlowTable(netns: string, dev: string): Promise<void> {
  await tcIn(netns, ['filter', 'del', 'dev', dev, 'ingress', 'prio', String(FLOW_TABLE_PRIO), 'handle', '1', 'bpf']);
}

/** Id of the program the table's filter on `dev` runs; null when no table is attached there. */
export async function attachedFlowTable(netns: string, dev: string): Promise<number | null> {
  const r = await tcIn(netns, ['-j', 'filter', 'show', 'dev', dev, 'ingress']);
  if (r.code !== 0 || !r.stdout.trim()) return null;
  type Raw = { pref?: number; kind?: string; options?: { prog?: { id?: number } } };
  const f = (JSON.parse(r.stdout) as Raw[]).find((x) => x.kind === 'bpf' && x.pref === FLOW_TABLE_PRIO && x.options?.prog?.id);
  return f?.options?.prog?.id ?? null;
}

let flowerProbe: Promise<boolean> | undefined;

/**
 * Whether this kernel has cls_flower, probed once per process the way the brief of issue 13
 * asks: a throwaway veth pair in `netns` gets a software flower filter, which is then removed.
 */
export function kernelHasFlower(netns: string): Promise<boolean> {
  flowerProbe ??= (async () => {
    const a = `iopfp${process.pid % 100000}`;
    const b = `${a}b`;
    const add = await tcIn(netns, ['qdisc', 'show']); // namespace reachable at all
    if (add.code !== 0) return false;
    const ip = (args: string[]) => runProcess(NSENTER, [`--net=/run/netns/${netns}`, 'ip', ...args], { timeoutMs: 10_000, env: ENV });
    await ip(['link', 'del', a]);
    if ((await ip(['link', 'add', a, 'type', 'veth', 'peer', 'name', b])).code !== 0) return false;
    try {
      if ((await tcIn(netns, ['qdisc', 'add', 'dev', a, 'clsact'])).code !== 0) return false;
      const r = await tcIn(netns, [
        'filter',
        'add',
        'dev',
        a,
        'ingress',
        'prio',
        '1',
        'protocol',
        'ip',
        'flower',
        'skip_hw',
        'ip_proto',
        'tcp',
        'action',
        'ok',
      ]);
      return r.code === 0;
    } finally {
      await ip(['link', 'del', a]);
    }
  })().catch(() => false);
  return flowerProbe;
}

/**
 * What a loaded table does with one frame, as the kernel runs it (BPF_PROG_TEST_RUN of the table
 * pinned in `dir`, its maps as filled): XDP_DROP for TC_ACT_SHOT, XDP_PASS for TC_ACT_OK, so a
 * module's vectors compare with its XDP program's verdicts. The run also moves the table's counters.
 */
export async function flowTableVerdict(dir: string, frame: Buffer): Promise<'XDP_DROP' | 'XDP_PASS'> {
  const work = await fsp.mkdtemp(join(tmpdir(), 'ioplane-flow-'));
  try {
    await fsp.writeFile(join(work, 'in.bin'), frame);
    const r = await bpftool(['prog', 'run', 'pinned', join(dir, 'prog'), 'data_in', join(work, 'in.bin'), 'repeat', '1', '-j']);
    if (r.code !== 0) throw new DeviceError('kernel_failed', `running the flow table: ${r.stderr.trim()}`);
    const ret = (JSON.parse(r.stdout) as { retval: number }).retval;
    if (ret !== 0 && ret !== 2) throw new DeviceError('kernel_failed', `the flow table returned ${ret}, neither TC_ACT_OK nor TC_ACT_SHOT`);
    return ret === 2 ? 'XDP_DROP' : 'XDP_PASS';
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}
