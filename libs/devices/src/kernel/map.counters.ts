import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { bpftool } from './bpftool.run';

/** Maps small enough to be counters: arrays of at most this many entries. */
const MAX_COUNTER_ENTRIES = 256;

function leU64(bytes: string[]): number {
  let v = 0n;
  for (let i = Math.min(bytes.length, 8) - 1; i >= 0; i--) v = (v << 8n) | BigInt(parseInt(bytes[i], 16));
  return Number(v);
}

type Dumped = {
  key: unknown;
  value?: unknown;
  values?: { cpu: number; value: unknown }[];
  formatted?: { value?: unknown; values?: { value: unknown }[] };
};

function sumLeaves(v: unknown): number {
  if (typeof v === 'number') return v;
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x === 'string' && /^0x[0-9a-f]{2}$/i.test(x))) return leU64(v as string[]);
    return v.reduce((s: number, x) => s + sumLeaves(x), 0);
  }
  if (v && typeof v === 'object') return Object.values(v).reduce((s: number, x) => s + sumLeaves(x), 0);
  return 0;
}

async function dump(pin: string): Promise<Dumped[] | null> {
  const r = await bpftool(['map', 'dump', 'pinned', pin, '-j']);
  if (r.code !== 0) return null;
  try {
    return JSON.parse(r.stdout) as Dumped[];
  } catch {
    return null;
  }
}

/** Total of every u64 in each small array map pinned in `dir` under `prefix` (module counters). */
export async function readMapTotals(dir: string, prefix: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const names = (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
  for (const n of names) {
    const show = await bpftool(['map', 'show', 'pinned', join(dir, n), '-j']);
    if (show.code !== 0) continue;
    const info = JSON.parse(show.stdout) as { type: string; max_entries: number; bytes_value: number };
    if (!['array', 'percpu_array'].includes(info.type) || info.max_entries > MAX_COUNTER_ENTRIES || info.bytes_value % 8 !== 0) continue;
    const entries = await dump(join(dir, n));
    if (!entries) continue;
    out[n.slice(prefix.length)] = entries.reduce((s, e) => {
      if (e.formatted) return s + sumLeaves(e.formatted.value ?? e.formatted.values?.map((x) => x.value));
      return s + sumLeaves(e.value ?? e.values?.map((x) => x.value));
    }, 0);
  }
  return out;
}

/** The dispatcher's per-slot packets, bytes and drops, summed over CPUs. */
export async function readStats(pin: string): Promise<{ packets: number; bytes: number; drops: number }[] | null> {
  const entries = await dump(pin);
  if (!entries) return null;
  return entries.map((e) => {
    const per = (e.values ?? []).map((c) => c.value as string[]);
    const field = (k: number): number => per.reduce((s, bytes) => s + leU64(bytes.slice(k * 8, k * 8 + 8)), 0);
    return { packets: field(0), bytes: field(1), drops: field(2) };
  });
}

/** One row of a hook's chain counters (struct iop_chain_stat in modules/include/iop_chain.h), summed over CPUs. */
export interface ChainStatRow {
  packets: number;
  bytes: number;
  passed: number;
  dropped: number;
  other: number;
  missed: number;
  /** Nanoseconds in the slot, summed over packets and CPUs. */
  ns: number;
}

const CHAIN_STAT_FIELDS = ['packets', 'bytes', 'passed', 'dropped', 'other', 'missed', 'ns'] as const;

/** Rows of a hook's chain counter map by index; null when the map is not pinned (no tail-call chain yet). */
export async function readChainStats(pin: string): Promise<ChainStatRow[] | null> {
  const entries = await dump(pin);
  if (!entries) return null;
  return entries.map((e) => {
    const per = (e.values ?? []).map((c) => c.value as string[]);
    const row = {} as ChainStatRow;
    for (const [k, name] of CHAIN_STAT_FIELDS.entries()) row[name] = per.reduce((s, bytes) => s + leU64(bytes.slice(k * 8, k * 8 + 8)), 0);
    return row;
  });
}
