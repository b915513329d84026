import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import { createApi, listen } from '../apps/api/src/api.app';
import { createWorker } from '../apps/worker/src/worker.app';
import { CHAIN_REQUEST, Harness, http, registerApi, startHarness, syncFleet, until } from './harness';

// The harness's example chain, as a dry run.
const REQUEST = { ...CHAIN_REQUEST, dryRun: true };

/**
 * The API process never runs a solver: a dry run is a job a worker answers. So on a synced fleet
 * an API answers a dry run while a worker runs, and refuses it (503 at its DRY_RUN_DEADLINE_MS,
 * no plan) once none consumes the dry-run queue; /readyz names that queue.
 */
describe('dry runs over HTTP: answered by a worker, never by the API', () => {
  let h: Harness;
  // A worker of the test's own (not the harness's), so the test can stop it and keep the API.
  let worker: INestApplicationContext | null = null;
  // A second API on the same installation with a short deadline: the harness's keeps the default,
  // so a worker that takes a while to solve on a loaded machine still answers it in time. Had the
  // setting no effect, the refusal below would wait the default 120 s and the test time out.
  let shortApi: INestApplication;
  let shortUrl: string;

  beforeAll(async () => {
    h = await startHarness({ worker: false });
    worker = await createWorker({
      config: h.config,
      redisUrl: h.config.REDIS_URL!,
      name: 'worker',
      maas: h.maas,
      schedules: false,
      probeMs: 50,
    });
    await syncFleet(h);
    shortApi = await createApi({ config: { ...h.config, DRY_RUN_DEADLINE_MS: 1500 }, redisUrl: h.config.REDIS_URL!, name: 'api-short' });
    shortUrl = await listen(shortApi, '127.0.0.1', 0);
    registerApi(shortUrl, h.token);
  }, 90_000);
  afterAll(async () => {
    if (shortUrl) registerApi(shortUrl, null);
    await shortApi?.close();
    await worker?.close();
    await h?.stop();
  });

  const readyz = (url = h.apiUrl) => http(url, 'GET', '/readyz', undefined, { authorization: '' });
  const stored = async () => (await h.redis.keys(`${h.keys.base}:placement*`)).length;

  it('answers 200 with the plan while a worker consumes the dry-run queue', async () => {
    const res = await http(h.apiUrl, 'POST', '/v1/placements', REQUEST);
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 200, error: undefined });
    expect(res.body.dryRun).toBe(true);
    expect(res.body.plan.machines.length).toBeGreaterThan(0);
    expect((await readyz()).status).toBe(200);
    expect(await stored()).toBe(0);
  });

  it('answers a plan with infeasible machines within its documented response (their cost is null)', async () => {
    // Zone a holds machines on which this chain has no place; the response contract is checked.
    const res = await http(h.apiUrl, 'POST', '/v1/placements', {
      ...REQUEST,
      selector: { zones: ['zone-a'] },
      modules: [{ name: 'acl-firewall' }, { name: 'ddos-drop' }],
    });
    expect({ status: res.status, error: res.body.error }).toEqual({ status: 200, error: undefined });
    const infeasible = res.body.plan.machines.filter((m: { feasible: boolean }) => !m.feasible);
    expect(infeasible.length).toBeGreaterThan(0);
    expect(infeasible.map((m: { cost: unknown }) => m.cost)).toEqual(infeasible.map(() => null));
  });

  it('without a worker: /readyz names the dry-run queue, and a dry run is 503 dry_run_timeout with no plan and nothing left queued', async () => {
    await worker!.close();
    worker = null;
    const r = await until('readiness to see no worker', async () => {
      const x = await readyz(shortUrl);
      return x.status === 503 ? x : null;
    });
    expect(r.body.error.message).toMatch(/no worker on queue\(s\) [a-z, -]*\bdry-run\b/);

    const res = await http(shortUrl, 'POST', '/v1/placements', REQUEST);
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('dry_run_timeout');
    expect(res.body.error.message).toMatch(/is a worker running\?/);
    expect(res.body.plan).toBeUndefined();
    expect(await stored()).toBe(0);
    // Nobody waits for the job any more, so it is not left for a worker that starts later.
    expect(await h.redis.llen(`{${h.config.IOPLANE_PREFIX}}:dry-run:wait`)).toBe(0);
  });
});
