import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { acceptingNotRun, Harness, hostId, http, startHarness, syncFleet, until, waitJob } from '../harness';
import { OwnRedis, sleep, spawnWorker, WorkerProcess } from './fault.fixture';

const EXAMPLE = acceptingNotRun(parse(readFileSync('placements/example.yaml', 'utf8')));
// Longer than the machine-lock renewal period (20 s) and than ioredis's three retries per command.
const OUTAGE_MS = 30_000;

describe('a worker through a Redis outage of 30 s (SIGKILL, restart from the AOF)', () => {
  const redis = new OwnRedis();
  let h: Harness;
  let worker: WorkerProcess | null = null;

  beforeAll(async () => {
    await redis.start();
    // flower -> bpf on an Agilio is write 2 s + activate 15 s; at 1.5x the flash outlasts one renewal period.
    h = await startHarness({ redisUrl: redis.url, worker: false, agents: { timeScale: 1.5 } });
    worker = spawnWorker(h);
    await syncFleet(h);
  }, 90_000);
  afterAll(async () => {
    await worker?.kill();
    // The harness cleans its keys and closes its clients: Redis must be up for that, even after a failure mid-outage.
    if (!redis.running) await redis.start();
    if (h) await h.stop().catch(() => undefined);
    await redis.stop();
  });

  it('stays alive while it holds a machine lock, then takes jobs again by itself', async () => {
    const w = worker!;
    const id = hostId(h, 'edge-b03');
    const res = await http(h.apiUrl, 'POST', '/v1/placements', { ...EXAMPLE, selector: { hostnames: ['edge-b03'] } });
    expect(res.status).toBe(202);
    const placementId: string = res.body.id;
    await until(
      () => `edge-b03 to be flashing (worker output: ${w.output().slice(-2000)})`,
      async () => {
        const p = (await http(h.apiUrl, 'GET', `/v1/placements/${placementId}`)).body;
        return p.rollout?.machines?.find((m: { systemId: string }) => m.systemId === id)?.state === 'flashing';
      },
      60_000,
    );

    // Mid-flash, so the worker holds the machine's lock and renews it while Redis is gone.
    await redis.kill();
    const start = Date.now();
    while (Date.now() - start < OUTAGE_MS) {
      if (!w.alive()) break;
      await sleep(250);
    }
    expect({ alive: w.alive(), output: w.alive() ? '' : w.output().slice(-3000) }).toEqual({ alive: true, output: '' });
    // Not ready while Redis is gone: a load balancer stops sending work here.
    expect((await http(h.apiUrl, 'GET', '/readyz')).status).toBe(503);
    await redis.start();

    // It reconnects by itself: a new job (a fleet sync runs on the worker) is taken and finished.
    let last: unknown = null;
    const sync = await until(
      () => `the API to enqueue a fleet sync again (last answer: ${JSON.stringify(last).slice(0, 500)})`,
      async () => {
        const r = await http(h.apiUrl, 'POST', '/v1/fleet/sync', {}).catch((e) => ({ status: 0, body: String(e) }));
        last = r;
        return r.status === 202 ? r : null;
      },
      30_000,
    );
    expect((await waitJob(h.apiUrl, sync.body.jobId)).state).toBe('completed');
    expect({ alive: w.alive(), output: w.alive() ? '' : w.output().slice(-3000) }).toEqual({ alive: true, output: '' });
    // The readiness probe counts the worker on every queue again.
    await until('/readyz to be ready again', async () => (await http(h.apiUrl, 'GET', '/readyz')).status === 200, 30_000);
  }, 150_000);
});
