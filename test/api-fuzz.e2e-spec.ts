import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { TokenRepository } from '@ioplane/state';
import { Harness, http, startHarness } from './harness';
import { authCases, bodyCases, Case, contentTypeCases, headerCases, methodCases, pathCases, queryCases, Tokens } from './fuzz/fuzz.cases';
import { label, Operation, operations } from './fuzz/openapi.ops';
import { rawRequest } from './fuzz/raw.request';
import { FuzzTarget, probe } from './fuzz/rejection.check';

/**
 * Every operation of the OpenAPI document, fuzzed with requests that must all be rejected: no or
 * bad tokens, weaker roles, unknown and malformed query parameters, odd path parameters, bad
 * bodies and bodies that are not JSON. Each must get a 4xx in the shared error body naming what
 * is wrong, within a deadline, leaving Redis (state and queues) and the artifact folder as they
 * were. A new endpoint is fuzzed as soon as it is in the document.
 *
 * Replay a failure with the seed in the test name: FUZZ_SEED=<seed> npx jest test/api-fuzz.e2e-spec.ts
 * (FUZZ_SCALE=10 multiplies the runs, FUZZ_BUDGET_MS raises the time bound for that).
 */
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31);
/** The whole suite's budget; cases still pending when it runs out fail as interrupted. */
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 120_000);
const DEADLINE_MS = 10_000;
/** More runs per family for a deeper local search (FUZZ_SCALE=10); CI runs the default. */
const SCALE = Math.max(1, Number(process.env.FUZZ_SCALE ?? 1));

/** Each family of each operation has a seed of its own, so adding an endpoint does not reshuffle the others. */
const seedFor = (kind: string, op: Operation) =>
  (SEED ^
    createHash('sha256')
      .update(`${kind} ${label(op)}`)
      .digest()
      .readUInt32LE(0)) |
  0;

describe(`API fuzz, driven by the OpenAPI document (FUZZ_SEED=${SEED})`, () => {
  let h: Harness;
  let dataDir: string;
  let target: FuzzTarget;
  let ops: Operation[];
  let tokens: Tokens;
  const started = Date.now();
  let requests = 0;

  beforeAll(async () => {
    process.stdout.write(`api fuzz: FUZZ_SEED=${SEED}\n`);
    dataDir = mkdtempSync(join(tmpdir(), 'ioplane-fuzz-'));
    // No worker and no agents: nothing but the API itself may touch the state between two snapshots.
    h = await startHarness({
      agents: false,
      worker: false,
      env: { IOPLANE_DATA_DIR: dataDir, API_RATE_LIMIT: '1000000', API_REFUSED_LIMIT: '1000000' },
    });
    const repo = new TokenRepository(h.redis, h.config.IOPLANE_PREFIX);
    const revoked = await repo.create('fuzz-revoked', 'admin');
    await repo.revoke(revoked.record.id);
    tokens = {
      admin: h.token,
      viewer: (await repo.create('fuzz-viewer', 'viewer')).token,
      operator: (await repo.create('fuzz-operator', 'operator')).token,
      revoked: revoked.token,
    };
    ops = operations((await http(h.apiUrl, 'GET', '/docs-json')).body);
    // Any authenticated read verifies its token in Redis, behind whatever the API wrote before.
    const barrier = ops.find((o) => o.method === 'GET' && o.role !== 'public' && !o.pathParams.length);
    if (!barrier) throw new Error('no authenticated GET without path parameters in the document to order requests by');
    const settle = async () => {
      const r = await rawRequest(
        h.apiUrl,
        { method: 'GET', path: barrier.path, headers: { authorization: `Bearer ${h.token}` } },
        DEADLINE_MS,
      );
      if (r.status !== 200) throw new Error(`GET ${barrier.path} answered ${r.status}: ${r.text.slice(0, 200)}`);
    };
    target = { baseUrl: h.apiUrl, redis: h.redis, prefix: h.config.IOPLANE_PREFIX, artifactDir: dataDir, deadlineMs: DEADLINE_MS, settle };
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    process.stdout.write(`api fuzz: ${requests} requests in ${Date.now() - started} ms (FUZZ_SEED=${SEED})\n`);
  });

  /** Runs every case of every operation; returns one line per failing family, with its seed. */
  async function run(families: (op: Operation, t: Tokens) => Case[]): Promise<string[]> {
    const failures: string[] = [];
    for (const op of ops) {
      for (const c of families(op, tokens) as Array<Case<unknown>>) {
        const seed = seedFor(c.kind, op);
        const left = BUDGET_MS - (Date.now() - started);
        try {
          await fc.assert(
            fc.asyncProperty(c.input, async (v) => {
              const { req, expect } = c.make(v);
              requests++;
              const problems = await probe(target, req, expect);
              if (problems.length) throw new Error(`${req.method} ${req.path.slice(0, 160)} -> ${problems.join('; ')}`);
            }),
            {
              seed,
              numRuns: c.runs > 1 ? c.runs * SCALE : 1,
              endOnFailure: true,
              interruptAfterTimeLimit: Math.max(left, 1),
              markInterruptAsFailure: true,
            },
          );
        } catch (e) {
          // The problem first (fast-check keeps it as the cause); a counterexample can be megabytes, so only its start.
          const cause = (e as { cause?: unknown }).cause;
          const lines = (e as Error).message.split('\n');
          const example = lines.find((l) => l.startsWith('Counterexample'))?.slice(0, 200) ?? lines[0];
          failures.push(
            `${label(op)} [${c.kind}] seed ${seed}: ${cause instanceof Error ? cause.message.slice(0, 800) : lines[0]} | ${example}`,
          );
        }
      }
    }
    return failures;
  }

  it('reads a document with every kind of operation to fuzz', () => {
    expect(ops.length).toBeGreaterThan(15);
    expect(ops.some((o) => o.body)).toBe(true);
    expect(ops.some((o) => o.query.length)).toBe(true);
    expect(ops.some((o) => o.pathParams.length)).toBe(true);
    expect(ops.some((o) => o.headers.length)).toBe(true);
  });

  it('refuses unknown query parameters on every list, naming them, and still takes the known ones', async () => {
    const lists = [
      '/v1/fleet/machines?zone=zone-a',
      '/v1/placements',
      '/v1/audit?limit=5',
      '/v1/audit/refused',
      '/v1/rebalance/proposals?limit=5',
      '/v1/modules',
      '/v1/profiles',
      '/v1/tokens',
    ];
    for (const list of lists) {
      expect({ list, status: (await http(h.apiUrl, 'GET', list)).status }).toEqual({ list, status: 200 });
      const bad = await http(h.apiUrl, 'GET', `${list}${list.includes('?') ? '&' : '?'}zoen=zone-a&limt=5`);
      expect({
        list,
        status: bad.status,
        field: bad.body.error?.field,
        issues: bad.body.error?.issues?.map((i: { field: string }) => i.field),
      }).toEqual({ list, status: 400, field: 'zoen', issues: ['zoen', 'limt'] });
    }
    const analysis = await http(h.apiUrl, 'GET', '/v1/modules/fuzz-absent/analysis?profile=intel-e810-4.20&verbose=1');
    expect({ status: analysis.status, field: analysis.body.error?.field }).toEqual({ status: 400, field: 'verbose' });
  });

  it('refuses a missing, malformed, revoked or too weak token on every protected operation', async () => {
    expect(await run(authCases)).toEqual([]);
  }, 150_000);

  it('refuses unknown query parameters and bad values of known ones, naming them', async () => {
    expect(await run(queryCases)).toEqual([]);
  }, 150_000);

  it('refuses odd values of documented headers, naming them', async () => {
    expect(await run(headerCases)).toEqual([]);
  }, 150_000);

  it('answers methods a path does not declare in the shared error body', async () => {
    expect(await run(methodCases(ops))).toEqual([]);
  }, 150_000);

  it('refuses odd and malformed path parameters, naming them', async () => {
    expect(await run(pathCases)).toEqual([]);
  }, 150_000);

  it('refuses bad bodies: wrong types, missing and unknown fields, huge strings, deep nesting, invalid UTF-8', async () => {
    expect(await run(bodyCases)).toEqual([]);
  }, 150_000);

  it('refuses bodies that are not JSON, or JSON in a form the parser must not take', async () => {
    expect(await run(contentTypeCases)).toEqual([]);
  }, 150_000);
});
