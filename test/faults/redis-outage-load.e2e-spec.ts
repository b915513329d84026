import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { acceptingNotRun, Harness, http, startHarness, syncFleet, until } from '../harness';
import { OwnRedis, sleep, spawnWorker, WorkerProcess } from './fault.fixture';
import { converged, outcomes } from './processes.fixture';

const EXAMPLE = acceptingNotRun(parse(readFileSync('placements/example.yaml', 'utf8')));
const MODULES: string[] = EXAMPLE.modules.map((m: { name: string }) => m.name);
const TERMINAL = ['completed', 'failed', 'infeasible', 'cancelled', 'rolled-back'];
const MACHINE_TERMINAL = ['committed', 'rolled-back', 'failed', 'cancelled'];
const OUTAGE_MS = 5_000;

/**
 * Redis SIGKILLed for 5 s while a machine is loading, then restarted from its AOF: a state write
 * that fails is retried, never taken for a failed step; whatever the outage left unresolved is
 * resolved from what the agents run. No machine stays in flight, and the placement says so.
 */
describe('a rollout through a Redis outage of 5 s mid-load (SIGKILL, restart from the AOF)', () => {
  const redis = new OwnRedis();
  let h: Harness;
  let worker: WorkerProcess | null = null;

  beforeAll(async () => {
    await redis.start();
    h = await startHarness({ redisUrl: redis.url, worker: false, agents: { timeScale: 0.3 } });
    worker = spawnWorker(h, { IOPLANE_RECONCILE_MS: '2000' });
    await syncFleet(h);
  }, 120_000);
  afterAll(async () => {
    await worker?.kill();
    if (!redis.running) await redis.start();
    if (h) await h.stop().catch(() => undefined);
    await redis.stop();
  });

  it('ends with every machine committed-new or restored-old as its agent reports, none stuck', async () => {
    const w = worker!;
    const res = await http(h.apiUrl, 'POST', '/v1/placements', EXAMPLE);
    expect(res.status).toBe(202);
    const id: string = res.body.id;
    await until(
      () => `a machine to be loading (worker output: ${w.output().slice(-2000)})`,
      async () => {
        const p = (await http(h.apiUrl, 'GET', `/v1/placements/${id}`)).body;
        return p.rollout?.machines?.some((m: { state: string }) => m.state === 'loading');
      },
      120_000,
    );
    await redis.kill();
    const killedAt = Date.now();
    await sleep(OUTAGE_MS);
    await redis.start();

    const final = await until(
      () => `the placement to end (worker output: ${w.output().slice(-3000)})`,
      async () => {
        const r = await http(h.apiUrl, 'GET', `/v1/placements/${id}`).catch(() => null);
        return r?.status === 200 && TERMINAL.includes(r.body.status) ? r.body : null;
      },
      300_000,
    );
    process.stdout.write(`redis outage ${OUTAGE_MS} ms mid-load: placement ${final.status} ${Date.now() - killedAt} ms after Redis died\n`);
    expect(w.alive()).toBe(true);
    const machines: Array<{ hostname: string; state: string; reason: string | null }> = final.rollout.machines;
    // 0 stuck: nothing in flight or unknown once the placement says it ended.
    expect(machines.filter((m) => !MACHINE_TERMINAL.includes(m.state))).toEqual([]);
    const seen = await outcomes(h, h.apiUrl, id, MODULES);
    expect(seen.length).toBeGreaterThan(1);
    expect(seen).toEqual(converged(seen, MODULES));
    // The placement's status tells the truth: completed means every machine it did not halt on committed.
    if (final.status === 'completed') expect(machines.filter((m) => m.state !== 'committed' && m.state !== 'rolled-back')).toEqual([]);
    process.stdout.write(`redis outage: ${machines.map((m) => `${m.hostname} ${m.state}${m.reason ? ` (${m.reason.slice(0, 120)})` : ''}`).join('; ')}\n`);
  }, 600_000);
});
