import { agentToken } from '@ioplane/agent-api';
import { loadOrCreateSecret } from '@ioplane/runtime';
import { Harness, http, runCli, startHarness } from './harness';

type Op = { method: string; path: string; role: string };
const RANK: Record<string, number> = { public: 0, viewer: 1, operator: 2, admin: 3 };

/** Every operation of the OpenAPI document, with the role it declares. */
async function operations(h: Harness): Promise<Op[]> {
  const doc = (await http(h.apiUrl, 'GET', '/docs-json')).body as { paths: Record<string, Record<string, { 'x-ioplane-role'?: string }>> };
  const ops: Op[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods))
      ops.push({ method: method.toUpperCase(), path, role: op['x-ioplane-role'] ?? 'MISSING' });
  }
  return ops;
}

/** A concrete URL for a templated path: parameters get a well-formed value that exists nowhere. */
const concrete = (p: string) =>
  p
    .replace('{systemId}', 'zzzzzz')
    .replace('{name}', 'no-such-module')
    .replace('{id}', p.includes('placements') ? 'pl-none' : p.includes('tokens') ? 'aaaaaaaaaaaa' : 'none')
    .replace(/\{[^}]+\}/g, 'x');

describe('access control', () => {
  let h: Harness;
  const tokens: Record<string, string> = {};
  beforeAll(async () => {
    h = await startHarness({ agents: false });
    for (const role of ['viewer', 'operator', 'admin']) {
      const r = await http(h.apiUrl, 'POST', '/v1/tokens', { name: `t-${role}`, role });
      expect(r.status).toBe(201);
      tokens[role] = r.body.token;
    }
  });
  afterAll(() => h?.stop());

  const call = (op: Op, token: string | null) =>
    http(h.apiUrl, op.method, concrete(op.path), op.method === 'GET' || op.method === 'DELETE' ? undefined : {}, {
      authorization: token ? `Bearer ${token}` : '',
    });

  it('every endpoint documents its error body', async () => {
    const doc = (await http(h.apiUrl, 'GET', '/docs-json')).body as {
      paths: Record<
        string,
        Record<
          string,
          { responses: Record<string, { content?: Record<string, { schema: { $ref?: string } }> }>; 'x-ioplane-role'?: string }
        >
      >;
    };
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        const codes = op['x-ioplane-role'] === 'public' ? ['400'] : ['400', '401', '403'];
        for (const c of codes)
          expect({ at: `${method} ${path} ${c}`, ref: op.responses[c]?.content?.['application/json']?.schema.$ref }).toEqual({
            at: `${method} ${path} ${c}`,
            ref: '#/components/schemas/Error',
          });
      }
    }
  });

  it('every endpoint in the OpenAPI document declares a role', async () => {
    const ops = await operations(h);
    expect(ops.length).toBeGreaterThan(15);
    expect(ops.filter((o) => !(o.role in RANK))).toEqual([]);
  });

  it('refuses each endpoint without a token (401) and with a weaker role (403), naming what is missing', async () => {
    for (const op of await operations(h)) {
      if (op.role === 'public') {
        expect({ op, status: (await call(op, null)).status }).not.toEqual({ op, status: 401 });
        continue;
      }
      const anon = await call(op, null);
      expect({ op: `${op.method} ${op.path}`, status: anon.status, field: anon.body?.error?.field }).toEqual({
        op: `${op.method} ${op.path}`,
        status: 401,
        field: 'Authorization',
      });
      expect(anon.body.error.message).toMatch(/bearer token/);
      for (const weaker of ['viewer', 'operator'].filter((r) => RANK[r] < RANK[op.role])) {
        const res = await call(op, tokens[weaker]);
        expect({ op: `${op.method} ${op.path}`, as: weaker, status: res.status }).toEqual({
          op: `${op.method} ${op.path}`,
          as: weaker,
          status: 403,
        });
        expect(res.body.error.message).toContain(`needs role ${op.role}`);
      }
      const enough = await call(op, tokens[op.role]);
      expect({ op: `${op.method} ${op.path}`, status: [401, 403].includes(enough.status) }).toEqual({
        op: `${op.method} ${op.path}`,
        status: false,
      });
    }
  });

  it('needs admin for what the README gives admins: modules, tokens, policies', async () => {
    const ops = await operations(h);
    const admin = (method: string, path: string) =>
      expect({ method, path, role: ops.find((o) => o.method === method && o.path === path)?.role }).toEqual({
        method,
        path,
        role: 'admin',
      });
    admin('PUT', '/v1/rebalance/policy');
    admin('POST', '/v1/modules');
    admin('POST', '/v1/tokens');
    const policy = { rules: [{ selector: { zones: ['zone-a'] }, mode: 'propose' }] };
    const asOperator = await http(h.apiUrl, 'PUT', '/v1/rebalance/policy', policy, { authorization: `Bearer ${tokens.operator}` });
    expect({ status: asOperator.status, field: asOperator.body.error?.field }).toEqual({ status: 403, field: 'Authorization' });
    expect((await http(h.apiUrl, 'PUT', '/v1/rebalance/policy', policy, { authorization: `Bearer ${tokens.admin}` })).status).toBe(200);
  });

  it('takes a revocation at once', async () => {
    const r = await http(h.apiUrl, 'POST', '/v1/tokens', { name: 'short-lived', role: 'viewer' });
    const auth = { authorization: `Bearer ${r.body.token}` };
    expect((await http(h.apiUrl, 'GET', '/v1/fleet/machines', undefined, auth)).status).toBe(200);
    expect((await http(h.apiUrl, 'DELETE', `/v1/tokens/${r.body.id}`)).status).toBe(200);
    expect((await http(h.apiUrl, 'GET', '/v1/fleet/machines', undefined, auth)).status).toBe(401);
    const list = (await http(h.apiUrl, 'GET', '/v1/tokens')).body.items;
    expect(list.find((t: { id: string }) => t.id === r.body.id).revokedAt).toEqual(expect.any(String));
    expect(JSON.stringify(list)).not.toContain(r.body.token.split('_')[2]);
  });

  it('writes an audit entry for each mutating call; refused ones in a list of their own', async () => {
    type Entry = { method: string; path: string; tokenName: string | null; status: number; result: string };
    await http(h.apiUrl, 'POST', '/v1/fleet/sync', {}, { authorization: `Bearer ${tokens.operator}` });
    await http(h.apiUrl, 'POST', '/v1/modules', {}, { authorization: `Bearer ${tokens.viewer}` });
    const audit = (await http(h.apiUrl, 'GET', '/v1/audit?limit=1000')).body.items as Entry[];
    expect(audit).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ method: 'POST', path: '/v1/fleet/sync', tokenName: 't-operator', status: 202, result: 'ok' }),
      ]),
    );
    expect(audit.filter((e) => e.result === 'refused')).toEqual([]);
    expect(audit.every((e) => e.method !== 'GET')).toBe(true);
    const refused = (await http(h.apiUrl, 'GET', '/v1/audit/refused?limit=50')).body.items as Entry[];
    expect(refused[0]).toMatchObject({ method: 'POST', path: '/v1/modules', tokenName: 't-viewer', status: 403, result: 'refused' });
    expect(refused.every((e) => e.result === 'refused' && e.method !== 'GET')).toBe(true);
  });

  it('refuses an agent token on the API, and the agent refuses a controller token', async () => {
    const secret = loadOrCreateSecret(h.keysDir, 'agent-token.secret');
    const agentTok = agentToken(secret, 'abc123');
    expect((await http(h.apiUrl, 'GET', '/v1/fleet/machines', undefined, { authorization: `Bearer ${agentTok}` })).status).toBe(401);
  });

  it('serves bull-board at /admin/queues to admins only', async () => {
    expect((await fetch(`${h.apiUrl}/admin/queues/`)).status).toBe(401);
    expect((await fetch(`${h.apiUrl}/admin/queues/`, { headers: { authorization: `Bearer ${tokens.operator}` } })).status).toBe(403);
    const page = await fetch(`${h.apiUrl}/admin/queues/`, { headers: { authorization: `Bearer ${tokens.admin}` } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
    const login = await fetch(`${h.apiUrl}/admin/queues/login?token=${encodeURIComponent(tokens.admin)}`, { redirect: 'manual' });
    expect(login.status).toBe(302);
    const cookie = login.headers.get('set-cookie')!;
    expect(cookie).toMatch(/HttpOnly/);
    const api = await fetch(`${h.apiUrl}/admin/queues/api/queues`, { headers: { cookie: cookie.split(';')[0] } });
    expect(api.status).toBe(200);
    expect(JSON.stringify(await api.json())).toContain('rollout');
  });

  it('manages tokens from the CLI', async () => {
    const created = await runCli(['--api', h.apiUrl, 'tokens', 'create', '--name', 'cli-made', '--role', 'operator']);
    expect(created.code).toBe(0);
    const id = created.stdout.split(' ')[0];
    expect((await runCli(['--api', h.apiUrl, 'tokens', 'ls'])).stdout).toMatch(new RegExp(`${id}\\s+cli-made\\s+operator`));
    expect((await runCli(['--api', h.apiUrl, 'tokens', 'revoke', id])).stdout).toMatch(/revoked/);
  });
});

describe('the agent API and controller tokens', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h?.stop());

  it('answers 401 to a controller token', async () => {
    const [systemId, agent] = [...h.sim.agents.entries()][0];
    const res = await fetch(`${agent.url}/v1/inventory`, { headers: { authorization: `Bearer ${h.token}` } });
    expect(res.status).toBe(401);
    expect(systemId).toMatch(/^[a-z0-9]+$/);
  });
});

describe('rate limiting', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ agents: false, env: { API_RATE_LIMIT: '3' } });
  });
  afterAll(() => h?.stop());

  it('limits mutating calls per token, never reads', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push((await http(h.apiUrl, 'POST', '/v1/fleet/sync', {})).status);
    expect(statuses.slice(0, 3)).toEqual([202, 202, 202]);
    expect(statuses.slice(3)).toEqual([429, 429]);
    for (let i = 0; i < 6; i++) expect((await http(h.apiUrl, 'GET', '/v1/fleet/machines')).status).toBe(200);
  });
});
