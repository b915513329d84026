import type Redis from 'ioredis';
import { NoAnswer, RawRequest, RawResponse, rawRequest } from './raw.request';
import { differences, newAuditEntries, Snapshot, snapshot } from './state.snapshot';

/** What a rejected request must get back, beyond "a 4xx in the shared error body, nothing changed". */
export interface Expectation {
  /** Allowed statuses; any 4xx when absent. */
  statuses?: number[];
  /**
   * The field the error must name, in `error.field` or one of `error.issues[].field`: a name,
   * one of several names, or a test. Absent: any field or none.
   */
  field?: string | string[] | ((field: string) => boolean);
}

export interface FuzzTarget {
  baseUrl: string;
  redis: Redis;
  prefix: string;
  artifactDir: string;
  /** Per-request deadline: no answer within it is a hang. */
  deadlineMs: number;
  /**
   * Resolves once writes the API started for the last request have landed. The API records a
   * failed mutating call in the audit without waiting for Redis before it answers; a request that
   * makes the API touch Redis again on the same connection orders itself behind that write.
   */
  settle?: () => Promise<void>;
  /** The state after the previous probe, which is the state before the next one. */
  last?: Snapshot;
}

/** An absolute path of the server's file system in an answer tells a caller how the host is laid out. */
const SERVER_PATH = /(^|[\s"'(=:,])\/(usr|home|var|etc|tmp|root|proc|sys|opt|srv|work|run|dev)\//;

const fieldMatches = (want: NonNullable<Expectation['field']>, f: string) =>
  typeof want === 'function' ? want(f) : Array.isArray(want) ? want.includes(f) : want === f;

/**
 * Everything wrong with one answer to a request that should have been rejected; empty when it
 * was rejected properly. `changes` are the state differences the request left behind.
 */
export function verdict(res: RawResponse | NoAnswer, expect: Expectation, changes: string[] = []): string[] {
  if (res instanceof NoAnswer) return [`no answer: ${res.message}`, ...changes];
  const problems: string[] = [];
  const excerpt = res.text.slice(0, 300);
  const leak = SERVER_PATH.exec(res.text);
  if (leak) problems.push(`answer names a server path (${res.text.slice(Math.max(0, leak.index - 40), leak.index + 60)})`);
  if (res.status < 400 || res.status >= 500) problems.push(`answered ${res.status}, not a 4xx: ${excerpt}`);
  else if (expect.statuses && !expect.statuses.includes(res.status))
    problems.push(`answered ${res.status}, expected ${expect.statuses.join(' or ')}: ${excerpt}`);
  const error = (res.body as { error?: { code?: unknown; message?: unknown; field?: unknown; issues?: unknown } } | undefined)?.error;
  if (
    !error ||
    typeof error.code !== 'string' ||
    !/^[a-z][a-z_]*$/.test(error.code) ||
    typeof error.message !== 'string' ||
    !error.message
  ) {
    problems.push(`not the shared error body {error: {code, message, field?}}: ${excerpt}`);
  } else if (error.field !== undefined && typeof error.field !== 'string') {
    problems.push(`error.field is not a string: ${excerpt}`);
  } else if (expect.field !== undefined) {
    const issues = Array.isArray(error.issues)
      ? (error.issues as Array<{ field?: unknown }>).map((i) => i.field).filter((f): f is string => typeof f === 'string')
      : [];
    const named = [...(typeof error.field === 'string' ? [error.field] : []), ...issues];
    if (!named.some((f) => fieldMatches(expect.field!, f))) {
      const want = typeof expect.field === 'function' ? 'the expected field' : JSON.stringify(expect.field);
      problems.push(`names ${named.length ? named.join(', ') : 'no field'}, not ${want}: ${excerpt}`);
    }
  }
  return [...problems, ...changes];
}

/** Audit entries a request may add: at most one, recording it as refused or failed with its own status. */
export function auditVerdict(key: string, added: string[] | null, status: number): string[] {
  if (added === null) return [`audit list ${key} was rewritten below its head`];
  if (added.length > 1) return [`audit list ${key} got ${added.length} entries for one request`];
  const problems: string[] = [];
  for (const raw of added) {
    let e: { result?: unknown; status?: unknown };
    try {
      e = JSON.parse(raw) as typeof e;
    } catch {
      problems.push(`audit list ${key} got an entry that is not JSON`);
      continue;
    }
    if (e.result === 'ok') problems.push(`audit list ${key} recorded a rejected request as ok`);
    if (e.status !== status) problems.push(`audit list ${key} recorded status ${String(e.status)} for a ${status}`);
  }
  return problems;
}

/** Sends one request that must be rejected and returns everything wrong with how it was. */
export async function probe(t: FuzzTarget, req: RawRequest, expect: Expectation): Promise<string[]> {
  // Anything that changed since the last probe is still caught: it counts against this request.
  const before = t.last ?? (await snapshot(t.redis, t.prefix, t.artifactDir));
  let res: RawResponse | NoAnswer;
  try {
    res = await rawRequest(t.baseUrl, req, t.deadlineMs);
  } catch (e) {
    if (!(e instanceof NoAnswer)) throw e;
    res = e;
  }
  // Reads are never audited; a stray write of one still shows, against the next request.
  if (req.method !== 'GET' && req.method !== 'HEAD') await t.settle?.();
  const after = await snapshot(t.redis, t.prefix, t.artifactDir);
  t.last = after;
  const audit: string[] = [];
  for (const key of after.audits.keys()) {
    audit.push(...auditVerdict(key, await newAuditEntries(t.redis, key, before.audits.get(key)), res instanceof NoAnswer ? 0 : res.status));
  }
  return verdict(res, expect, differences(before, after, audit));
}
