import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { acceptingNotRun, Harness, hostId, http, startHarness, syncFleet, until } from '../harness';
import { spawnWorker, WorkerProcess } from './fault.fixture';

const EXAMPLE = acceptingNotRun(parse(readFileSync('placements/example.yaml', 'utf8')));
const HOSTS = ['edge-a01', 'edge-a02'];

/**
 * MAAS answers 503 to everything while a wave commits: the machines commit (the placement runs
 * whether or not MAAS takes the note), and once MAAS is back the reconciler gives every committed
 * machine its workload annotations.
 */
describe('a MAAS outage during commit', () => {
  let h: Harness;
  let worker: WorkerProcess | null = null;

  beforeAll(async () => {
    h = await startHarness({ worker: false, agents: { timeScale: 0.3 } });
    worker = spawnWorker(h, { IOPLANE_RECONCILE_MS: '1000' });
    await syncFleet(h);
  }, 120_000);
  afterAll(async () => {
    h?.sim.faults.clear();
    await worker?.kill();
    if (h) await h.stop().catch(() => undefined);
  });

  it('commits, then annotates in MAAS when it is back', async () => {
    const w = worker!;
    const ids = HOSTS.map((x) => hostId(h, x));
    const annotated = () => ids.filter((id) => h.sim.store.get(id).annotations.ioplane_placement === placementId);
    const res = await http(h.apiUrl, 'POST', '/v1/placements', { ...EXAMPLE, selector: { hostnames: HOSTS } });
    expect(res.status).toBe(202);
    const placementId: string = res.body.id;
    await until(
      () => `a machine to be verifying (worker output: ${w.output().slice(-2000)})`,
      async () =>
        (await http(h.apiUrl, 'GET', `/v1/placements/${placementId}`)).body.rollout?.machines?.some(
          (m: { state: string }) => m.state === 'verifying',
        ),
      120_000,
    );
    h.sim.faults.set({ unavailableRate: 1, retryAfterSeconds: 0 });
    const final = await until(
      () => `the placement to end (worker output: ${w.output().slice(-2000)})`,
      async () => {
        const p = (await http(h.apiUrl, 'GET', `/v1/placements/${placementId}`)).body;
        return ['completed', 'failed', 'cancelled', 'rolled-back'].includes(p.status) ? p : null;
      },
      180_000,
    );
    expect({ status: final.status, machines: final.rollout.machines.map((m: { state: string }) => m.state) }).toEqual({
      status: 'completed',
      machines: HOSTS.map(() => 'committed'),
    });
    // Nothing reached MAAS while it was down.
    expect(annotated()).toEqual([]);
    const back = Date.now();
    h.sim.faults.clear();
    await until(
      () => `MAAS annotations caught up (annotated: ${annotated().join(', ')}; worker output: ${w.output().slice(-2000)})`,
      async () => annotated().length === ids.length,
      60_000,
    );
    process.stdout.write(`maas outage during commit: annotations caught up ${Date.now() - back} ms after MAAS came back\n`);
    for (const id of ids) expect(h.sim.store.get(id).annotations.ioplane_modules).toMatch(/@/);
  }, 400_000);
});
