import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { acceptingNotRun, Harness, http, startHarness, syncFleet, until } from '../harness';
import { spawnWorker, WorkerProcess } from './fault.fixture';
import { SentinelSet } from './ha.fixture';
import { ApiProcess, converged, outcomes, spawnApi } from './processes.fixture';

const EXAMPLE = acceptingNotRun(parse(readFileSync('placements/example.yaml', 'utf8')));
const MODULES: string[] = EXAMPLE.modules.map((m: { name: string }) => m.name);
const TERMINAL = ['completed', 'failed', 'infeasible', 'cancelled', 'rolled-back'];

/**
 * Redis behind Sentinel, two workers and two APIs in their own processes, and the primary
 * SIGKILLed while a rollout has machines in flight: the sentinels promote the replica, every
 * process follows it (no address of a server is configured anywhere), the old primary comes back
 * as a replica, and the rollout finishes with every machine committed as its agent reports.
 */
describe('a rollout through a Sentinel failover (primary SIGKILLed mid-rollout)', () => {
  const ha = new SentinelSet();
  let h: Harness;
  const workers: WorkerProcess[] = [];
  const apis: ApiProcess[] = [];

  beforeAll(async () => {
    await ha.start();
    h = await startHarness({ redisUrl: ha.url, worker: false, agents: { timeScale: 0.3 } });
    workers.push(spawnWorker(h), spawnWorker(h));
    apis.push(await spawnApi(h), await spawnApi(h));
    await syncFleet(h);
  }, 180_000);

  afterAll(async () => {
    for (const w of workers) await w.kill();
    for (const a of apis) await a.kill();
    if (h) await h.stop().catch(() => undefined);
    await ha.stop();
  });

  it('finishes the rollout on the promoted primary, every machine committed as its agent reports', async () => {
    const [a, b] = apis;
    await until(
      'both APIs to be ready (a worker on every queue)',
      async () => (await http(a.url, 'GET', '/readyz')).status === 200 && (await http(b.url, 'GET', '/readyz')).status === 200,
      60_000,
    );
    const res = await http(a.url, 'POST', '/v1/placements', EXAMPLE);
    expect(res.status).toBe(202);
    const id: string = res.body.id;
    await until(
      'a machine in flight',
      async () => {
        const p = (await http(a.url, 'GET', `/v1/placements/${id}`)).body;
        return p.rollout?.machines?.some((m: { state: string }) => ['flashing', 'loading', 'verifying'].includes(m.state));
      },
      120_000,
    );

    const killedAt = Date.now();
    const old = await ha.killPrimary();
    const promoted = await ha.waitPromoted(old);
    await ha.restart(old);
    process.stdout.write(`sentinel failover: :${old} -> :${promoted} in ${Date.now() - killedAt} ms\n`);

    // Read through the other API: any process serves any placement.
    const final = await until(
      () => `the placement to end (workers: ${workers.map((w) => w.output().slice(-1500)).join('\n---\n')})`,
      async () => {
        const r = await http(b.url, 'GET', `/v1/placements/${id}`).catch(() => null);
        return r?.status === 200 && TERMINAL.includes(r.body.status) ? r.body : null;
      },
      300_000,
    );
    process.stdout.write(`sentinel failover: rollout ${final.status} ${Date.now() - killedAt} ms after the primary died\n`);
    expect(workers.map((w) => w.alive())).toEqual([true, true]);
    expect({
      status: final.status,
      error: final.error,
      machines: final.status === 'completed' ? [] : final.rollout?.machines?.filter((m: { state: string }) => m.state !== 'committed'),
    }).toEqual({ status: 'completed', error: null, machines: [] });
    const seen = await outcomes(h, b.url, id, MODULES);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen).toEqual(converged(seen, MODULES));
    expect(seen.filter((m) => m.state !== 'committed')).toEqual([]);
    // Ready again once every worker's connections follow the promoted primary (they reconnect by themselves).
    for (const api of apis) {
      let last: unknown = null;
      await until(
        () => `${api.url}/readyz to be ready again (last answer: ${JSON.stringify(last)})`,
        async () => {
          const r = await http(api.url, 'GET', '/readyz').catch((e) => ({ status: 0, body: String(e) }));
          last = r;
          return r.status === 200;
        },
        60_000,
      );
    }
  }, 600_000);
});
