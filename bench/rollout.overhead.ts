import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { agentToken, AgentClient, generateSigningKeys, signArtifact } from '@ioplane/agent-api';
import type { FirmwareProfile } from '@ioplane/domain';
import { JOBS, newPlacementId, QUEUES, queuePrefix, workerConnection } from '@ioplane/queue';
import { firmwareImageFor, MachineRecord, RolloutOrchestrator } from '@ioplane/rollout';
import { RedisPlacementRepository, RolloutRepository, StateKeys } from '@ioplane/state';
import { Queue, Worker, WorkerOptions } from 'bullmq';
import Redis from 'ioredis';
import { RolloutProcessor } from '../apps/worker/src/rollout.processor';
import { HttpAgents } from './rollout.http-agents';
import { benchFleet, benchPolicy, nominalFlashSeconds, offloadModules } from './rollout.fleet';

export interface OverheadOptions {
  machines: number;
  /** Seconds the Agilio flavour switch takes after scaling (profile: 17 s). */
  flashSeconds: number;
  /** Threads hosting the HTTP agents. */
  threads: number;
  /** The runbook's health-check wait; production: 200 ms (machine.runbook.ts default). */
  probeMs: number;
  profiles: FirmwareProfile[];
  redisUrl: string;
  prefix: string;
}

export interface OverheadResult {
  machines: number;
  concurrency: number;
  workerConcurrency: number;
  waves: number[];
  wallSeconds: number;
  deviceSeconds: number;
  flashSeconds: number;
  loadSeconds: number;
  nominalDeviceSeconds: number;
  ratio: number;
  ratioNominal: number;
  floorRatio: number;
  states: Record<string, number>;
  status: string;
  broken: string[];
  timeScale: number;
  /** Per machine: time from its job first starting to its job's end (verified), minus its device time. */
  perMachineOverheadMs: number[];
}

/**
 * The production rollout path: the worker's own RolloutProcessor on a BullMQ Worker (its
 * @Processor options: concurrency, lock), flows per wave (rollout-start -> wave flow of machine
 * jobs -> rollout-wave job releasing the next), the Redis repositories, the orchestrator and
 * runbook with the production health-check wait, and real agents over HTTP (AgentClient with the
 * per-machine HMAC token, signature checks in the agent). maxUnavailable is the worker's job
 * concurrency, so one worker process can keep every slot busy. Timed from enqueueing rollout-start
 * to the placement's status leaving rolling-out.
 */
export async function measureOverhead(o: OverheadOptions): Promise<OverheadResult> {
  // The processor's progress lines would bury the bench's output; warnings and errors still show.
  Logger.overrideLogger(['warn', 'error']);
  const workerOpts = Reflect.getMetadata('bullmq:worker_metadata', RolloutProcessor) as WorkerOptions;
  const concurrency = workerOpts.concurrency ?? 1;
  const modules = await offloadModules();
  const fleet = benchFleet(o.machines, modules);
  const nominal = nominalFlashSeconds(o.profiles, fleet[0].devices[1].profileId!);
  const timeScale = o.flashSeconds / nominal;
  const keys = generateSigningKeys();
  const tokenSecret = randomBytes(32).toString('hex');
  const agents = await HttpAgents.start(o.threads, {
    machines: fleet.map((m) => ({ systemId: m.systemId, hostname: m.hostname, devices: m.devices })),
    tokenSecret,
    publicKeyPem: keys.publicKeyPem,
    timeScale,
  });
  const redis = new Redis(o.redisUrl, { maxRetriesPerRequest: 3 });
  const rollouts = new RolloutRepository(redis, o.prefix);
  const placements = new RedisPlacementRepository(redis, o.prefix);
  const connection = workerConnection(o.redisUrl);
  const queue = new Queue(QUEUES.rollout, { connection, prefix: queuePrefix(o.prefix) });
  const broken: string[] = [];
  const startedAt = new Map<string, number>();
  const endedAt = new Map<string, number>();
  let worker: Worker | undefined;
  let startFailed = false;
  const opMs = new Map<string, number>();
  try {
    // Emulated agents (kernel off: a thousand kernel agents would be a thousand namespace sets) cannot
    // run the vectors; the operator's acceptNotRun lets them pass, the digest and counter checks still run.
    const wants = new Map(fleet.map((m) => [m.systemId, { ...m.want, acceptNotRun: true }]));
    const byProfile = new Map(o.profiles.map((p) => [p.id, firmwareImageFor(p)]));
    let committed = 0;
    const orchestrator = new RolloutOrchestrator({
      store: rollouts,
      // As rolloutEnv's agentFor: the inventory's URL, the machine's own token, a long deadline for flashes.
      agentFor: async (id) => {
        const c = new AgentClient(agents.urlOf.get(id)!, agentToken(tokenSecret, id), { timeoutMs: 15 * 60_000 });
        if (!process.env.BENCH_DEBUG) return c;
        return new Proxy(c, {
          get(t, p) {
            const v = (t as any)[p];
            if (typeof v !== 'function') return v;
            return async (...a: unknown[]) => {
              const t0 = performance.now();
              try {
                return await v.apply(t, a);
              } finally {
                opMs.set(String(p), (opMs.get(String(p)) ?? 0) + performance.now() - t0);
              }
            };
          },
        });
      },
      sign: (digest) => signArtifact(digest, keys.privateKeyPem),
      firmwareImage: (profileId) => {
        const img = byProfile.get(profileId);
        if (!img) throw new Error(`no firmware profile ${profileId}`);
        return img;
      },
      desired: async (_p, systemId) => wants.get(systemId)!,
      onCommitted: async () => {
        committed++;
      },
      probeMs: o.probeMs,
    });
    const processor = new RolloutProcessor(orchestrator, rollouts, placements, queue);
    const policy = benchPolicy(concurrency);
    const placementId = newPlacementId();
    const now = new Date().toISOString();
    await placements.create({
      id: placementId,
      request: { policy: { rollout: policy } },
      status: 'planned',
      reason: 'bench',
      idempotencyKey: null,
      createdAt: now,
      updatedAt: now,
      error: null,
    });
    // The start job slices this plan per machine; the bench's desired state comes from `wants`, not the slices.
    await placements.putPlan(placementId, {
      machines: fleet.map((m) => ({ systemId: m.systemId, hostname: m.hostname, feasible: true, placements: {}, flavourSwitches: {} })),
      modules: [],
    });

    worker = new Worker(
      QUEUES.rollout,
      async (job, token) => {
        const machine = job.name === JOBS.rolloutMachine;
        if (machine && !startedAt.has(job.data.systemId)) startedAt.set(job.data.systemId, performance.now());
        const out = await processor.process(job, token);
        // The machine's own part ends here (commit of the wave comes later, in finishWave).
        if (machine) endedAt.set(job.data.systemId, performance.now());
        return out;
      },
      { ...workerOpts, connection, prefix: queuePrefix(o.prefix) },
    );
    worker.on('failed', (job, err) => {
      if (err.name === 'DelayedError') return;
      if (job?.name === JOBS.rolloutStart) startFailed = true;
      if (broken.length < 20) broken.push(`job ${job?.name} ${job?.id}: ${err.message}`);
    });
    const t0 = performance.now();
    await queue.add(JOBS.rolloutStart, { placementId }, { jobId: `${placementId}.start` });
    let status = 'planned';
    for (;;) {
      status = (await placements.get(placementId))?.status ?? 'missing';
      if (status !== 'planned' && status !== 'rolling-out') break;
      // A start job that failed leaves the placement planned for good.
      if (status === 'planned' && startFailed) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    const wallSeconds = (performance.now() - t0) / 1000;
    if (process.env.BENCH_DEBUG) console.error('agent call ms', Object.fromEntries([...opMs].map(([k, v]) => [k, Math.round(v)])));
    if (status !== 'completed') broken.push(`placement ended ${status}: ${(await placements.get(placementId))?.error ?? ''}`);

    const recs = await rollouts.machines<MachineRecord>(placementId);
    const states: Record<string, number> = {};
    for (const r of recs) {
      states[r.state] = (states[r.state] ?? 0) + 1;
      if (r.state !== 'committed' && broken.length < 20) broken.push(`${r.hostname}: ${r.state}${r.reason ? `: ${r.reason}` : ''}`);
    }
    if (committed !== fleet.length) broken.push(`${committed} of ${fleet.length} machines reached onCommitted`);

    const times = await agents.deviceTimes();
    let flashMs = 0;
    let loadMs = 0;
    let flashes = 0;
    const perMachineOverheadMs: number[] = [];
    for (const m of fleet) {
      const t = times.get(m.systemId);
      if (!t) continue;
      flashMs += t.flashMs;
      loadMs += t.loadMs;
      flashes += t.flashes;
      const s = startedAt.get(m.systemId);
      const e = endedAt.get(m.systemId);
      if (s !== undefined && e !== undefined) perMachineOverheadMs.push(e - s - t.flashMs - t.loadMs);
    }
    const plan = (await rollouts.getRolloutPlan<{ waves: { machines: string[] }[] }>(placementId))!;
    const deviceSeconds = (flashMs + loadMs) / 1000;
    const nominalDeviceSeconds = flashes * o.flashSeconds + loadMs / 1000;
    return {
      machines: fleet.length,
      concurrency: policy.maxUnavailable,
      workerConcurrency: concurrency,
      waves: plan.waves.map((w) => w.machines.length),
      wallSeconds,
      deviceSeconds,
      flashSeconds: flashMs / 1000,
      loadSeconds: loadMs / 1000,
      nominalDeviceSeconds,
      ratio: wallSeconds / (deviceSeconds / policy.maxUnavailable),
      ratioNominal: wallSeconds / (nominalDeviceSeconds / policy.maxUnavailable),
      floorRatio:
        plan.waves.reduce((n, w) => n + Math.ceil(w.machines.length / policy.maxUnavailable), 0) / (fleet.length / policy.maxUnavailable),
      states,
      status,
      broken,
      timeScale,
      perMachineOverheadMs,
    };
  } finally {
    await worker?.close().catch(() => undefined);
    await queue.obliterate({ force: true }).catch(() => undefined);
    await queue.close().catch(() => undefined);
    await agents.close();
    // Only the bench's own state keys: everything under its unique prefix.
    let cursor = '0';
    do {
      const [next, found] = await redis.scan(cursor, 'MATCH', new StateKeys(o.prefix).pattern, 'COUNT', 1000);
      if (found.length) await redis.del(...found);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  }
}
