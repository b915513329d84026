import { StateKeys } from '@ioplane/state';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { NoAnswer, RawResponse } from './fuzz/raw.request';
import { auditVerdict, Expectation, FuzzTarget, probe, verdict } from './fuzz/rejection.check';

/** The fuzz suite's judge must be able to say no: each way a rejection can go wrong is reported. */
describe('the fuzz check reports', () => {
  const res = (status: number, body: unknown): RawResponse => ({ status, body, text: JSON.stringify(body), ms: 1 });
  const good = { error: { code: 'validation', message: 'query zone: bad', field: 'zone', issues: [{ field: 'zone', message: 'bad' }] } };

  it('nothing for a proper rejection', () => {
    expect(verdict(res(400, good), { statuses: [400], field: 'zone' })).toEqual([]);
    expect(
      verdict(res(400, { error: { ...good.error, field: 'selector', issues: [{ field: 'selector' }, { field: 'zone' }] } }), {
        field: 'zone',
      }),
    ).toEqual([]);
  });

  const wrong: Array<[string, RawResponse | NoAnswer, Expectation, RegExp]> = [
    ['a 500', res(500, { error: { code: 'internal', message: 'internal error' } }), {}, /answered 500/],
    ['an acceptance', res(202, { jobId: '1' }), {}, /answered 202/],
    ['a hang', new NoAnswer('no answer within 10 ms'), {}, /no answer/],
    ['another 4xx than expected', res(404, good), { statuses: [400] }, /answered 404, expected 400/],
    ['a body not in the shared shape', res(400, { statusCode: 400, message: 'Bad Request' }), {}, /shared error body/],
    ['an error code outside the closed form', res(400, { error: { code: 'Bad Request', message: 'x' } }), {}, /shared error body/],
    ['the wrong field', res(400, good), { field: 'pool' }, /names zone, zone, not "pool"/],
    ['no field', res(400, { error: { code: 'validation', message: 'x' } }), { field: 'zone' }, /names no field/],
    [
      'a server path',
      res(404, { error: { code: 'not_found', message: 'nothing in /usr/share/ioplane/agent' } }),
      {},
      /names a server path/,
    ],
  ];
  it.each(wrong)('%s', (_what, r, expect_, problem) => {
    expect(verdict(r, expect_).join('\n')).toMatch(problem);
  });

  it('state changes and audit entries a rejection must not leave', () => {
    expect(verdict(res(400, good), {}, ['redis key p:x appeared'])).toEqual(['redis key p:x appeared']);
    expect(auditVerdict('p:audit', [JSON.stringify({ result: 'ok', status: 400 })], 400)).toEqual([
      'audit list p:audit recorded a rejected request as ok',
    ]);
    expect(auditVerdict('p:audit', [JSON.stringify({ result: 'error', status: 400 })], 415)).toEqual([
      'audit list p:audit recorded status 400 for a 415',
    ]);
    expect(auditVerdict('p:audit', ['{}', '{}'], 400)).toEqual(['audit list p:audit got 2 entries for one request']);
    expect(auditVerdict('p:audit', null, 400)).toEqual(['audit list p:audit was rewritten below its head']);
    expect(auditVerdict('p:audit', [JSON.stringify({ result: 'error', status: 400 })], 400)).toEqual([]);
  });
});

/** The same through probe(), against a server that misbehaves on purpose, on the real Redis. */
describe('probe() against a misbehaving server', () => {
  const prefix = `fuzzcheck-${randomUUID().slice(0, 8)}`;
  let redis: Redis;
  let server: Server;
  let dir: string;
  let target: FuzzTarget;
  const reject = (r: ServerResponse) => {
    r.writeHead(400, { 'content-type': 'application/json' });
    r.end(JSON.stringify({ error: { code: 'validation', message: 'bad', field: 'zone' } }));
  };
  const routes: Record<string, (req: IncomingMessage, r: ServerResponse) => Promise<void> | void> = {
    '/clean': (_q, r) => reject(r),
    '/500': (_q, r) => void r.writeHead(500).end('{"error":{"code":"internal","message":"internal error"}}'),
    '/writes-state': async (_q, r) => {
      await redis.set(new StateKeys(prefix).placement('pl-x'), 'oops');
      reject(r);
    },
    '/writes-queue': async (_q, r) => {
      await redis.hset(`{${prefix}}:fleet:1`, 'data', '{}');
      reject(r);
    },
    '/changes-state': async (_q, r) => {
      await redis.hset(new StateKeys(prefix).tokens, 'a', '2');
      reject(r);
    },
    '/audits-ok': async (_q, r) => {
      await redis.lpush(new StateKeys(prefix).audit, JSON.stringify({ result: 'ok', status: 400 }));
      reject(r);
    },
    '/writes-artifact': (_q, r) => {
      writeFileSync(join(dir, 'artifacts', `leftover-${randomUUID()}.o`), 'x');
      reject(r);
    },
    '/hangs': () => undefined,
  };

  beforeAll(async () => {
    redis = new Redis(process.env.REDIS_URL!);
    await redis.hset(new StateKeys(prefix).tokens, 'a', '1');
    await redis.lpush(new StateKeys(prefix).audit, JSON.stringify({ result: 'ok', status: 200 }));
    dir = mkdtempSync(join(tmpdir(), 'ioplane-fuzzcheck-'));
    mkdirSync(join(dir, 'artifacts'));
    server = createServer((req, r) => void routes[req.url ?? '']?.(req, r));
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    target = { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, redis, prefix, artifactDir: dir, deadlineMs: 300 };
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((ok) => server?.close(ok));
    const keys = [...(await redis.keys(`${prefix}:*`)), ...(await redis.keys(`{${prefix}}:*`))];
    if (keys.length) await redis.del(...keys);
    await redis.quit();
    rmSync(dir, { recursive: true, force: true });
  });

  const run = (path: string) =>
    probe(
      target,
      { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: '{}' },
      { statuses: [400], field: 'zone' },
    );

  it.each([
    ['/clean', null],
    ['/500', /answered 500/],
    ['/writes-state', /redis key .*:placement:pl-x appeared/],
    ['/writes-queue', /redis key \{.*\}:fleet:1 appeared/],
    ['/changes-state', /redis key .*:tokens changed/],
    ['/audits-ok', /recorded a rejected request as ok/],
    ['/writes-artifact', /artifact artifacts\/leftover-.*\.o appeared/],
    ['/hangs', /no answer within 300 ms/],
  ])('%s', async (path, problem) => {
    const problems = await run(path);
    if (problem) expect(problems.join('\n')).toMatch(problem);
    else expect(problems).toEqual([]);
  });
});
