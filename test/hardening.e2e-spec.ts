import { request as httpRequest } from 'node:http';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { agentToken, generateSigningKeys } from '@ioplane/agent-api';
import { loadOrCreateSecret } from '@ioplane/runtime';
import { Harness, http, startHarness, until } from './harness';

/** A request from a loopback address of our choosing, so each test is its own client address. */
function from(
  localAddress: string,
  base: string,
  method: string,
  path: string,
  o: { token?: string; body?: string; headers?: Record<string, string> } = {},
) {
  return new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: any }>((ok, fail) => {
    const u = new URL(path, base);
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        path: `${u.pathname}${u.search}`,
        method,
        localAddress,
        headers: {
          ...(o.token ? { authorization: `Bearer ${o.token}` } : {}),
          ...(o.body !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(o.headers ?? {}),
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c) => (text += c));
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            // Not JSON: the raw text.
          }
          ok({ status: res.statusCode!, headers: res.headers, body });
        });
      },
    );
    req.on('error', fail);
    req.end(o.body);
  });
}

const badToken = (i: number) => `iop_${'z'.repeat(11)}${i % 10}_${'A'.repeat(43)}`;

describe('hardening: what fuzzing found, closed', () => {
  let h: Harness;
  let logs = '';
  const REFUSED_LIMIT = 5;
  const RATE_LIMIT = 3;
  beforeAll(async () => {
    const sink = new Writable({ write: (c, _e, cb) => ((logs += c.toString()), cb()) });
    h = await startHarness({
      worker: false,
      logLevel: 'info',
      logDestination: sink as never,
      env: { API_REFUSED_LIMIT: String(REFUSED_LIMIT), API_RATE_LIMIT: String(RATE_LIMIT) },
    });
  });
  afterAll(() => h?.stop());

  it('throttles refused requests per address before writing anything: real audit unchanged, refused list bounded, then 429', async () => {
    const addr = '127.0.0.11';
    expect((await from(addr, h.apiUrl, 'POST', '/v1/fleet/sync', { token: h.token, body: '{}' })).status).toBe(202);
    // The audit line of a call that went through is written as its response leaves.
    const audit = await until('the sync in the audit', async () => {
      const items = (await http(h.apiUrl, 'GET', '/v1/audit?limit=1000')).body.items;
      return items.some((e: { path: string }) => e.path === '/v1/fleet/sync') && items;
    });
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof from>> | null = null;
    for (let i = 0; i < 60; i++) {
      last = await from(addr, h.apiUrl, 'POST', i % 2 ? '/v1/fleet/sync' : '/v1/placements', {
        token: i % 3 ? badToken(i) : undefined,
        body: '{}',
      });
      statuses.push(last.status);
    }
    expect(statuses.slice(0, REFUSED_LIMIT)).toEqual(Array(REFUSED_LIMIT).fill(401));
    expect(new Set(statuses.slice(REFUSED_LIMIT))).toEqual(new Set([429]));
    expect(last!.body).toEqual({
      error: { code: 'too_many_refused', field: 'Authorization', message: expect.stringMatching(/retry in \d+ s/) },
    });
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    expect((await http(h.apiUrl, 'GET', '/v1/audit?limit=1000')).body.items).toEqual(audit);
    const refused = (await http(h.apiUrl, 'GET', '/v1/audit/refused?limit=1000')).body.items;
    expect(refused).toHaveLength(REFUSED_LIMIT);
    expect(refused.every((e: { status: number; result: string }) => e.status === 401 && e.result === 'refused')).toBe(true);
    // A valid token from the same address still works, and another address is not affected.
    expect((await from(addr, h.apiUrl, 'GET', '/v1/fleet/machines', { token: h.token })).status).toBe(200);
    expect((await from('127.0.0.12', h.apiUrl, 'POST', '/v1/fleet/sync', { token: badToken(1), body: '{}' })).status).toBe(401);
    // A weaker role's 403 counts the same way.
    const viewer = (await http(h.apiUrl, 'POST', '/v1/tokens', { name: 'hardening-viewer', role: 'viewer' })).body.token;
    const asViewer = [];
    for (let i = 0; i < REFUSED_LIMIT + 2; i++)
      asViewer.push((await from('127.0.0.13', h.apiUrl, 'POST', '/v1/fleet/sync', { token: viewer, body: '{}' })).status);
    expect(asViewer).toEqual([...Array(REFUSED_LIMIT).fill(403), 429, 429]);
  });

  it('answers a body over the limit with 413 in the shared error body', async () => {
    const big = JSON.stringify({ selector: { zones: ['zone-a'] }, modules: [{ name: 'x'.repeat(9 << 20) }] });
    for (const token of [h.token, undefined]) {
      const r = await from('127.0.0.14', h.apiUrl, 'POST', '/v1/placements', { token, body: big });
      expect({ status: r.status, body: r.body }).toEqual({
        status: 413,
        body: { error: { code: 'too_large', field: 'body', message: expect.stringContaining('limit') } },
      });
    }
    expect((await http(h.apiUrl, 'GET', '/healthz')).status).toBe(200);
  });

  it('answers malformed percent-encoding in a path with 400 naming the path, with or without a token', async () => {
    for (const path of ['/v1/fleet/machines/%E0%A4%A', '/v1/modules/%ZZ', '/%E0%A4%A']) {
      for (const token of [h.token, undefined]) {
        const r = await from('127.0.0.15', h.apiUrl, 'GET', path, { token });
        expect({ path, status: r.status, body: r.body }).toEqual({
          path,
          status: 400,
          body: { error: { code: 'validation', field: 'path', message: 'path: malformed percent-encoding' } },
        });
      }
    }
  });

  it("serves the fleet map's assets from an explicit list: prototype names are 404", async () => {
    for (const name of [
      'constructor',
      '__proto__',
      'toString',
      'hasOwnProperty',
      'valueOf',
      '__defineGetter__',
      'isPrototypeOf',
      'index.html',
      '..%2Fapi.app.ts',
    ]) {
      const r = await http(h.apiUrl, 'GET', `/ui/${name}`, undefined, { authorization: '' });
      expect({ name, status: r.status, code: r.body?.error?.code }).toEqual({ name, status: 404, code: 'not_found' });
    }
    const js = await fetch(`${h.apiUrl}/ui/fleet-map.js`);
    expect([js.status, js.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
  });

  it("puts bull-board under the API's rules: refusals throttled, mutations audited and rate-limited", async () => {
    const board = (method: string, path: string, token?: string, addr = '127.0.0.16') =>
      from(addr, h.apiUrl, method, `/admin/queues${path}`, { token });
    const anon = [];
    for (let i = 0; i < REFUSED_LIMIT + 1; i++) anon.push((await board('PUT', '/api/queues/fleet/pause', badToken(i))).status);
    expect(anon).toEqual([...Array(REFUSED_LIMIT).fill(401), 429]);
    const refused = (await http(h.apiUrl, 'GET', '/v1/audit/refused?limit=1000')).body.items;
    expect(refused.filter((e: { path: string }) => e.path === '/admin/queues/api/queues/fleet/pause')).toHaveLength(REFUSED_LIMIT);

    const paused = await board('PUT', '/api/queues/fleet/pause', h.token, '127.0.0.17');
    expect(paused.status).toBeLessThan(300);
    expect((await board('PUT', '/api/queues/fleet/resume', h.token, '127.0.0.17')).status).toBeLessThan(300);
    const audit = await until('both board calls in the audit', async () => {
      const items = (await http(h.apiUrl, 'GET', '/v1/audit?limit=50')).body.items;
      return items.filter((e: { path: string }) => e.path.startsWith('/admin/queues/')).length >= 2 && items;
    });
    expect(audit.slice(0, 2)).toEqual([
      expect.objectContaining({ method: 'PUT', path: '/admin/queues/api/queues/fleet/resume', tokenName: 'e2e-admin', result: 'ok' }),
      expect.objectContaining({ method: 'PUT', path: '/admin/queues/api/queues/fleet/pause', tokenName: 'e2e-admin', result: 'ok' }),
    ]);
    const statuses = [];
    for (let i = 0; i < RATE_LIMIT; i++) statuses.push((await board('PUT', '/api/queues/fleet/resume', h.token, '127.0.0.17')).status);
    expect(statuses.slice(0, RATE_LIMIT - 2).every((s) => s < 300)).toBe(true);
    const over = await board('PUT', '/api/queues/fleet/resume', h.token, '127.0.0.17');
    expect({ status: over.status, code: over.body?.error?.code }).toEqual({ status: 429, code: 'too_many_requests' });
    // Reads are not limited.
    expect((await board('GET', '/api/queues', h.token, '127.0.0.17')).status).toBe(200);
  });

  it('never logs a token, key or password pasted into a query string', async () => {
    const maasKey = 'AbCdEfGhIjKlMnOpQr:StUvWxYz0123456789:abcdefghijklmnopqrstuvwxyz012345';
    await http(h.apiUrl, 'GET', `/v1/fleet/machines?token=${h.token}`);
    await http(h.apiUrl, 'GET', `/v1/fleet/machines?zone=${encodeURIComponent(maasKey)}&password=hunter2hunter2&api_key=k3yk3yk3y`);
    await http(h.apiUrl, 'GET', `/v1/fleet/machines/${h.token}`);
    await fetch(`${h.apiUrl}/admin/queues/login?token=${encodeURIComponent(h.token)}`, { redirect: 'manual' });
    await until('the request lines', async () => logs.includes('/v1/fleet/machines?token=') && logs.includes('password='), 5_000);
    const secrets = [
      h.token,
      // The secret is base64url, which has underscores of its own: everything after `iop_<id>_`.
      h.token.split('_').slice(2).join('_'),
      maasKey,
      encodeURIComponent(maasKey),
      maasKey.split(':')[2],
      'hunter2hunter2',
      'k3yk3yk3y',
    ];
    const redisPassword = new URL(process.env.REDIS_URL!).password;
    if (redisPassword) secrets.push(redisPassword);
    for (const s of secrets) expect({ leaked: s, in: logs.includes(s) }).toEqual({ leaked: s, in: false });
    expect(logs).toContain('/v1/fleet/machines?token=[Redacted]');
  });
});

describe('hardening: the agent fault endpoint', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ worker: false });
  });
  afterAll(() => h?.stop());

  it("on a simulated agent takes the simulator's fault token, not the agent token", async () => {
    const [systemId, agent] = [...h.sim.agents.entries()][0];
    const dev = [...agent.drivers!.keys()][0];
    const body = { devices: { [dev]: { healthCheckFails: { next: 1 } } } };
    await expect(
      h.agent(systemId).setFaults(body, agentToken(loadOrCreateSecret(h.keysDir, 'agent-token.secret'), systemId)),
    ).rejects.toMatchObject({ status: 403 });
    expect((await fetch(`${agent.url}/v1/faults`, { method: 'PUT', body: JSON.stringify(body) })).status).toBe(401);
    expect(agent.faults!.all()).toEqual({});
    await h.agent(systemId).setFaults(body, h.sim.agentFaultToken!);
    expect(agent.faults!.all()).toEqual({ [dev]: { healthCheckFails: { next: 1 } } });
    await h.agent(systemId).setFaults({ devices: { [dev]: {} } }, h.sim.agentFaultToken!);
  });

  it('does not exist on the production agent, whatever its environment says', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ioplane-prod-agent-'));
    const token = 'prod-agent-token-0123456789abcdef';
    writeFileSync(join(dir, 'signing.pub'), generateSigningKeys().publicKeyPem);
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/agent/src/main.ts'], {
      env: {
        ...process.env,
        AGENT_HOST: '127.0.0.1',
        AGENT_PORT: '0',
        AGENT_TOKEN: token,
        AGENT_PUBLIC_KEY: join(dir, 'signing.pub'),
        AGENT_ID: 'prod-e2e',
        AGENT_KERNEL: 'off',
        AGENT_STATE_DIR: join(dir, 'state'),
        LOG_LEVEL: 'info',
        // Whatever a hostile environment tries, nothing turns the fault endpoint on.
        AGENT_FAULT_TOKEN: token,
        AGENT_SIMULATOR: '1',
        FAULT_TOKEN: token,
        SIMULATOR: 'true',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (b) => (out += b));
    child.stderr.on('data', (b) => (out += b));
    try {
      const url = await until(
        () => `the agent to listen: ${out}`,
        async () => /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out)?.[1],
        30_000,
      );
      const faults = (auth: string) =>
        fetch(`${url}/v1/faults`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
          body: JSON.stringify({ devices: { 'prod-e2e/eth0': { hang: true } } }),
        });
      const r = await faults(token);
      expect([r.status, ((await r.json()) as { error: { code: string } }).error.code]).toEqual([404, 'not_found']);
      expect((await fetch(`${url}/v1/inventory`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
