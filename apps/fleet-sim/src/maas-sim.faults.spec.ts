import { resolve } from 'node:path';
import { buildOAuthHeader } from './maas-sim.auth';
import { FaultInjector } from './maas-sim.faults';
import { startMaasSimulator, type MaasSimulator } from './maas-sim.server';
import { maasCall } from './maas-sim.testing';

const DEMO = resolve(__dirname, '../../../fleets/demo.yaml');

describe('MAAS simulator: fault injection', () => {
  let sim: MaasSimulator;
  const call = (path: string, opts?: Parameters<typeof maasCall>[3]) => maasCall(sim.apiUrl, sim.apiKey, path, opts);
  const simUrl = () => sim.url.replace(/MAAS\/$/, 'sim/faults');

  beforeAll(async () => {
    sim = await startMaasSimulator({ fleetFile: DEMO, port: 0, timeScale: 0.01 });
  });
  afterEach(() => sim.faults.clear());
  afterAll(() => sim.close());

  it('answers 503 with Retry-After before checking auth', async () => {
    sim.faults.set({ unavailableRate: 1, retryAfterSeconds: 7 });
    const r = await call('machines/', { auth: null });
    expect(r.status).toBe(503);
    expect(r.headers.get('retry-after')).toBe('7');
  });

  it('answers 409 with Retry-After: 5 for injected conflicts, and 504 for gateway timeouts', async () => {
    sim.faults.set({ conflictRate: 1 });
    const c = await call('machines/');
    expect(c.status).toBe(409);
    expect(c.headers.get('retry-after')).toBe('5');
    sim.faults.clear();
    sim.faults.set({ gatewayTimeoutRate: 1 });
    expect((await call('machines/')).status).toBe(504);
  });

  it('resets the connection', async () => {
    sim.faults.set({ resetRate: 1 });
    await expect(call('version/', { auth: null })).rejects.toThrow();
  });

  it('slows answers down', async () => {
    sim.faults.set({ delayMs: 150 });
    const t0 = Date.now();
    expect((await call('version/', { auth: null })).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
  });

  it('can fail deployments', async () => {
    sim.faults.set({ deployFailureRate: 1 });
    const m = sim.model.hosts.find((h) => h.status === 4)!;
    await call(`machines/${m.systemId}/?op=deploy`, { form: {} });
    sim.store.flushPending();
    const r = await call(`machines/${m.systemId}/`);
    expect(r.json.status_name).toBe('Failed deployment');
  });

  it('exposes the controls over HTTP at /sim/faults, behind the same OAuth', async () => {
    expect((await fetch(simUrl())).status).toBe(401);
    const put = await fetch(simUrl(), {
      method: 'PUT',
      headers: { Authorization: buildOAuthHeader(sim.apiKey), 'Content-Type': 'application/json' },
      body: JSON.stringify({ unavailableRate: 1 }),
    });
    expect(put.status).toBe(200);
    expect(((await put.json()) as any).unavailableRate).toBe(1);
    expect((await call('version/', { auth: null })).status).toBe(503);
    const get = await fetch(simUrl(), { headers: { Authorization: buildOAuthHeader(sim.apiKey) } });
    expect(((await get.json()) as any).unavailableRate).toBe(1);
    const bad = await fetch(simUrl(), {
      method: 'PUT',
      headers: { Authorization: buildOAuthHeader(sim.apiKey) },
      body: JSON.stringify({ unavailableRate: 2 }),
    });
    expect(bad.status).toBe(400);
    const del = await fetch(simUrl(), { method: 'DELETE', headers: { Authorization: buildOAuthHeader(sim.apiKey) } });
    expect(((await del.json()) as any).unavailableRate).toBe(0);
    expect((await call('version/', { auth: null })).status).toBe(200);
  });
});

describe('FaultInjector', () => {
  it('splits one random draw across the fault kinds', () => {
    const draws = [0.05, 0.15, 0.25, 0.35, 0.9];
    const f = new FaultInjector(() => draws.shift()!);
    f.set({ resetRate: 0.1, unavailableRate: 0.1, conflictRate: 0.1, gatewayTimeoutRate: 0.1 });
    const kinds = [0, 1, 2, 3, 4].map(() => {
      const d = f.decide();
      return d.kind === 'respond' ? d.status : d.kind;
    });
    expect(kinds).toEqual(['reset', 503, 409, 504, 'none']);
  });

  it('refuses rates outside 0..1 and unknown settings', () => {
    const f = new FaultInjector();
    expect(() => f.set({ conflictRate: 1.5 })).toThrow(/conflictRate/);
    expect(() => f.set({ bogus: 1 } as never)).toThrow(/bogus/);
  });
});
