import { StateKeys } from '@ioplane/state';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type Redis from 'ioredis';

/**
 * What a rejected request must leave as it was: every Redis key of the installation (state under
 * `{<prefix>}:state:`, BullMQ queues under `{<prefix>}:`) by a digest of its DUMP, and every file of the
 * artifact folder by a digest of its content.
 *
 * One exception, by design: the audit. A refused or failed mutating call is recorded, so an
 * audit list (`{<prefix>}:state:audit`, `{<prefix>}:state:audit:*`) may grow at its head by entries whose result
 * is not `ok`; everything below them must be unchanged.
 */
export interface Snapshot {
  keys: Map<string, string>;
  /** Audit lists: length and their first entries, to recognise them below the new ones. */
  audits: Map<string, { length: number; head: string[] }>;
  files: Map<string, string>;
}

const AUDIT_HEAD = 5;

export function isAuditKey(prefix: string, key: string): boolean {
  const audit = new StateKeys(prefix).audit;
  return key === audit || key.startsWith(`${audit}:`);
}

async function scan(redis: Redis, pattern: string): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** Redis glob patterns treat `{`, `[`, `*`, `?` and `\` specially; the prefix is data. */
const globEscape = (s: string) => s.replace(/[\\*?[\]{}]/g, (c) => `\\${c}`);

export async function snapshot(redis: Redis, prefix: string, artifactDir: string): Promise<Snapshot> {
  const names = [...(await scan(redis, `${globEscape(prefix)}:*`)), ...(await scan(redis, `${globEscape(`{${prefix}}`)}:*`))].sort();
  // One round trip for every key: the suite takes two snapshots per request.
  const typed = names.length ? ((await redis.pipeline(names.map((k) => ['type', k])).exec()) ?? []) : [];
  const audit = names.filter((k, i) => isAuditKey(prefix, k) && typed[i]?.[1] === 'list');
  const rest = names.filter((k) => !audit.includes(k));
  const pipe = redis.pipeline();
  for (const k of audit) pipe.llen(k).lrange(k, 0, AUDIT_HEAD - 1);
  for (const k of rest) pipe.dumpBuffer(k);
  const replies = (await pipe.exec()) ?? [];
  const audits = new Map<string, { length: number; head: string[] }>();
  audit.forEach((k, i) => audits.set(k, { length: replies[2 * i][1] as number, head: replies[2 * i + 1][1] as string[] }));
  const keys = new Map<string, string>();
  rest.forEach((k, i) => {
    const dump = replies[2 * audit.length + i][1] as Buffer | null;
    // A key gone between SCAN and DUMP still counts: its absence is the state.
    keys.set(k, dump ? createHash('sha256').update(dump).digest('hex') : 'gone');
  });
  return { keys, audits, files: fileDigests(artifactDir) };
}

function fileDigests(root: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!existsSync(root)) return out;
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) {
        out.set(`${relative(root, p)}/`, 'dir');
        walk(p);
      } else out.set(relative(root, p), createHash('sha256').update(readFileSync(p)).digest('hex'));
    }
  };
  walk(root);
  return out;
}

/**
 * Entries a request added to an audit list: the old head must reappear right below them (the
 * lists are capped, so lengths alone cannot tell). Null when the old entries were rewritten.
 */
export async function newAuditEntries(
  redis: Redis,
  key: string,
  before: { length: number; head: string[] } | undefined,
): Promise<string[] | null> {
  const now = await redis.lrange(key, 0, AUDIT_HEAD * 2);
  const head = before?.head ?? [];
  if (!head.length) return now;
  for (let k = 0; k + head.length <= now.length; k++) {
    if (head.every((e, i) => now[k + i] === e)) return now.slice(0, k);
  }
  return null;
}

/** Every difference between two snapshots, worded for a failure report; empty when nothing changed. */
export function differences(before: Snapshot, after: Snapshot, auditProblems: string[] = []): string[] {
  const out: string[] = [];
  for (const [k, v] of after.keys) {
    if (!before.keys.has(k)) out.push(`redis key ${k} appeared`);
    else if (before.keys.get(k) !== v) out.push(`redis key ${k} changed`);
  }
  for (const k of before.keys.keys()) if (!after.keys.has(k)) out.push(`redis key ${k} disappeared`);
  for (const k of before.audits.keys()) if (!after.audits.has(k)) out.push(`audit list ${k} disappeared`);
  for (const [f, v] of after.files) {
    if (!before.files.has(f)) out.push(`artifact ${f} appeared`);
    else if (before.files.get(f) !== v) out.push(`artifact ${f} changed`);
  }
  for (const f of before.files.keys()) if (!after.files.has(f)) out.push(`artifact ${f} disappeared`);
  return [...out, ...auditProblems];
}
