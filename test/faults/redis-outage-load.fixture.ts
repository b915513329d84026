import { readFileSync } from 'node:fs';
import { Queue } from 'bullmq';
import { parse } from 'yaml';
import { QUEUES, queuePrefix, workerConnection } from '@ioplane/queue';
import { acceptingNotRun, Harness, http, startHarness, syncFleet, until } from '../harness';
import { OwnRedis, sleep, spawnWorker, WorkerProcess } from './fault.fixture';
import { converged, outcomes } from './processes.fixture';

const EXAMPLE = acceptingNotRun(parse(readFileSync('placements/example.yaml', 'utf8')));
const MODULES: string[] = EXAMPLE.modules.map((m: { name: string }) => m.name);
const TERMINAL = ['completed', 'failed', 'infeasible', 'cancelled', 'rolled-back'];
const MACHINE_TERMINAL = ['committed', 'rolled-back', 'failed', 'cancelled'];
const WORKERS = 2;

/**
 * Redis SIGKILLed for `outageMs` while a machine is loading, under two worker processes, then
 * restarted from its AOF (appendfsync everysec: the last second of writes may be gone, as in a
 * crash). A state write that fails is retried, never taken for a failed step; whatever the outage
 * left unresolved is resolved from what the agents run. After it: no worker exited, /readyz said
 * not ready while Redis was gone and ready again by itself (every worker back on the queue), every
 * machine is committed-new or restored-old as its agent reports, none stuck, no job of the rollout
 * lost or left pending, and MAAS carries the placement's annotations exactly on committed machines.
 */
export function describeRedisOutageMidLoad(outageMs: number): void {
  describe(`a rollout through a Redis outage of ${outageMs / 1000} s mid-load (SIGKILL, restart from the AOF), ${WORKERS} worker processes`, () => {
    const redis = new OwnRedis();
    let h: Harness;
    const workers: WorkerProcess[] = [];
    let queue: Queue | null = null;

    beforeAll(async () => {
      await redis.start();
      h = await startHarness({ redisUrl: redis.url, worker: false, agents: { timeScale: 0.3 } });
      for (let i = 0; i < WORKERS; i++) workers.push(spawnWorker(h, { IOPLANE_RECONCILE_MS: '2000' }));
      await syncFleet(h);
    }, 120_000);
    afterAll(async () => {
      for (const w of workers) await w.kill();
      if (!redis.running) await redis.start();
      await queue?.close().catch(() => undefined);
      if (h) await h.stop().catch(() => undefined);
      await redis.stop();
    });

    const alive = () => workers.map((w) => ({ alive: w.alive(), output: w.alive() ? '' : w.output().slice(-3000) }));
    const allAlive = () => workers.map(() => ({ alive: true, output: '' }));
    const tails = () => workers.map((w) => w.output().slice(-1500)).join('\n---\n');

    it('ends with every machine committed-new or restored-old as its agent reports, none stuck, no job lost, MAAS told', async () => {
      await until(
        '/readyz to be ready (a worker on every queue)',
        async () => (await http(h.apiUrl, 'GET', '/readyz')).status === 200,
        60_000,
      );
      const res = await http(h.apiUrl, 'POST', '/v1/placements', EXAMPLE);
      expect(res.status).toBe(202);
      const id: string = res.body.id;
      await until(
        () => `a machine to be loading (workers: ${tails()})`,
        async () => {
          const p = (await http(h.apiUrl, 'GET', `/v1/placements/${id}`)).body;
          return p.rollout?.machines?.some((m: { state: string }) => m.state === 'loading');
        },
        120_000,
      );

      await redis.kill();
      const killedAt = Date.now();
      // Not ready while Redis is gone (a load balancer stops sending work here), and no worker exits.
      let notReady = 0;
      while (Date.now() - killedAt < outageMs) {
        const r = await http(h.apiUrl, 'GET', '/readyz').catch(() => ({ status: 0 }));
        if (r.status === 503) notReady++;
        if (workers.some((w) => !w.alive())) break;
        await sleep(500);
      }
      expect(alive()).toEqual(allAlive());
      expect(notReady).toBeGreaterThan(0);
      await redis.start();

      const final = await until(
        () => `the placement to end (workers: ${tails()})`,
        async () => {
          const r = await http(h.apiUrl, 'GET', `/v1/placements/${id}`).catch(() => null);
          return r?.status === 200 && TERMINAL.includes(r.body.status) ? r.body : null;
        },
        400_000,
      );
      const convergedMs = Date.now() - killedAt;
      expect(alive()).toEqual(allAlive());
      const machines: Array<{ systemId: string; hostname: string; wave: number; state: string; reason: string | null }> =
        final.rollout.machines;
      // 0 stuck: nothing in flight or unknown once the placement says it ended.
      expect(machines.filter((m) => !MACHINE_TERMINAL.includes(m.state))).toEqual([]);
      const seen = await outcomes(h, h.apiUrl, id, MODULES);
      expect(seen.length).toBeGreaterThan(1);
      expect(seen).toEqual(converged(seen, MODULES));
      // The placement's status tells the truth: completed means every machine it did not halt on committed.
      if (final.status === 'completed') expect(machines.filter((m) => m.state !== 'committed' && m.state !== 'rolled-back')).toEqual([]);

      // 0 jobs lost: every wave released and every machine job of it ran to an end (none waiting,
      // active or delayed behind a lock nobody renews), whatever the AOF kept.
      queue = new Queue(QUEUES.rollout, {
        connection: workerConnection(h.config.REDIS_URL!),
        prefix: queuePrefix(h.config.IOPLANE_PREFIX),
      });
      queue.on('error', () => undefined);
      const released = machines.filter((m) => m.state !== 'cancelled').map((m) => m.systemId);
      const jobStates = async (ids: string[]) =>
        Promise.all(ids.map(async (j) => ({ job: j, state: (await (await queue!.getJob(j))?.getState()) ?? 'missing' })));
      const machineJobs = await jobStates(released.map((s) => `${id}.m.${s}`));
      expect(machineJobs.filter((j) => j.state !== 'completed' && j.state !== 'failed')).toEqual([]);
      const waves = [...new Set(machines.filter((m) => m.state !== 'cancelled').map((m) => m.wave))];
      expect((await jobStates(waves.map((w) => `${id}.w${w}`))).filter((j) => j.state !== 'completed')).toEqual([]);

      // Both workers resumed by themselves: ready again, each back on the rollout queue.
      await until('/readyz to be ready again', async () => (await http(h.apiUrl, 'GET', '/readyz')).status === 200, 60_000);
      await until(
        () => `${WORKERS} workers on the rollout queue again`,
        async () => (await queue!.getWorkersCount()) >= WORKERS,
        60_000,
      );

      // MAAS annotations match the outcome: this placement's on committed machines only (the
      // reconciler gives MAAS any annotation the outage made it miss).
      const annotations = () =>
        machines.map((m) => ({ hostname: m.hostname, annotated: h.sim.store.get(m.systemId).annotations.ioplane_placement === id }));
      const wanted = machines.map((m) => ({ hostname: m.hostname, annotated: m.state === 'committed' }));
      await until(
        () => `MAAS annotations to match (seen: ${JSON.stringify(annotations())})`,
        async () => JSON.stringify(annotations()) === JSON.stringify(wanted),
        120_000,
      ).catch(() => undefined);
      expect(annotations()).toEqual(wanted);

      process.stdout.write(
        `redis outage ${outageMs} ms mid-load: placement ${final.status} ${convergedMs} ms after Redis died (${convergedMs - outageMs} ms after it came back); ` +
          `${machines.map((m) => `${m.hostname} ${m.state}${m.reason ? ` (${m.reason.slice(0, 120)})` : ''}`).join('; ')}\n`,
      );
    }, 900_000);
  });
}
