import { Logger } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { JOB_IDS, JOBS, QUEUES, queuePrefix } from '@ioplane/queue';
import {
  AgentPort,
  artifactDigest,
  ArtifactRef,
  desiredFromSlice,
  MachineRecord,
  MachineSlice,
  RolloutOrchestrator,
  RolloutPolicy,
} from '@ioplane/rollout';
import { RedisPlacementRepository, RolloutRepository } from '@ioplane/state';
import { RolloutProcessor } from './rollout.processor';

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
const url = process.env.REDIS_URL!;

const object = Buffer.from('\x7fELF acl');
const acl: ArtifactRef = {
  name: 'acl',
  version: '1',
  digest: artifactDigest(object),
  program: 'xdp_acl',
  persistentMaps: [],
  pps: 1000,
  vectors: [],
};

/** A machine's agent that runs what it is given on port 0 of its card, and counts probe traffic. */
function fakeAgent(): AgentPort {
  let running: { committed: boolean; modules: Array<{ name: string; digest: string }> } | null = null;
  let packets = 0;
  return {
    inventory: async () => ({ devices: [] }),
    programs: async () => ({ devices: running ? [{ deviceId: 'nic', ports: [{ port: 0, current: running }] }] : [] }),
    load: async (_d: string, req: { modules: Array<{ name: string; digest: string }> }) => (
      (running = { committed: false, modules: req.modules.map((m) => ({ name: m.name, digest: m.digest })) }),
      { status: 'loaded' }
    ),
    counters: async () => ({ modules: running ? [{ module: 'acl', port: 0, packets: (packets += 50), drops: 0, source: 'kernel' }] : [] }),
    probe: async () => ({ sent: 50 }),
    commit: async () => void (running = running && { ...running, committed: true }),
  } as unknown as AgentPort;
}

describe(RolloutProcessor.name, () => {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const queue = new Queue(QUEUES.rollout, { connection: { ...redis.options, lazyConnect: false }, prefix: queuePrefix(prefix) });
  // Counts every read of a whole plan (the rollout's waves, the placement's solver plan) and of a machine's slice.
  const reads = { rolloutPlan: 0, placementPlan: 0, slices: [] as string[] };
  const rollouts = new Proxy(new RolloutRepository(redis, prefix), {
    get: (t, k) => {
      if (k === 'getRolloutPlan') return (id: string) => (reads.rolloutPlan++, t.getRolloutPlan(id));
      if (k === 'machineSlice') return (id: string, systemId: string) => (reads.slices.push(systemId), t.machineSlice(id, systemId));
      const v = Reflect.get(t, k, t) as unknown;
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  const placements = new Proxy(new RedisPlacementRepository(redis, prefix), {
    get: (t, k) => {
      if (k === 'getPlan') return (id: string) => (reads.placementPlan++, t.getPlan(id));
      const v = Reflect.get(t, k, t) as unknown;
      return typeof v === 'function' ? v.bind(t) : v;
    },
  });
  const agents = new Map<string, AgentPort>();
  const orchestrator = new RolloutOrchestrator({
    store: rollouts,
    agentFor: async (systemId) => agents.get(systemId) ?? agents.set(systemId, fakeAgent()).get(systemId)!,
    sign: () => 'signature',
    firmwareImage: () => {
      throw new Error('nothing is flashed here');
    },
    // As the worker's rolloutEnv: the machine's own slice, its objects by digest.
    desired: async (placementId, systemId) =>
      desiredFromSlice((await rollouts.machineSlice<MachineSlice>(placementId, systemId))!, async (d) =>
        d === acl.digest ? object : null,
      ),
    onCommitted: async () => undefined,
    probeMs: 0,
  });
  const sut = new RolloutProcessor(orchestrator, rollouts, placements, queue);
  const job = (name: string, data: Record<string, unknown>) =>
    ({
      id: `${name}.${String(data.systemId ?? data.wave ?? 'start')}`,
      name,
      data,
      updateProgress: async () => undefined,
      moveToDelayed: async () => undefined,
    }) as unknown as Job;

  beforeAll(async () => {
    Logger.overrideLogger(['warn', 'error']);
    await redis.connect();
  });
  afterAll(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    const keys = await redis.keys(`{${prefix}}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it("reads the rollout plan once per wave: machine jobs read only their own slice, handed maxUnavailable by their wave's release", async () => {
    const placementId = 'pl-spec-waves';
    const policy: RolloutPolicy = { canary: 1, waves: [100], maxUnavailable: 2, failureThreshold: 0 };
    const ids = ['m1', 'm2', 'm3'];
    const now = new Date().toISOString();
    await placements.create({
      id: placementId,
      request: { policy: { rollout: policy } },
      status: 'planned',
      reason: 'operator',
      idempotencyKey: null,
      createdAt: now,
      updatedAt: now,
      error: null,
    });
    const placed = { acl: { module: 'acl', deviceId: 'nic', target: 'host-xdp-generic', profileId: null } };
    await placements.putPlan(placementId, {
      placementId,
      modules: [{ name: 'acl', artifact: acl }],
      machines: ids.map((systemId) => ({ systemId, hostname: `h-${systemId}`, feasible: true, flavourSwitches: {}, placements: placed })),
    });
    await rollouts.claimMachines(placementId, ids, async () => false);

    await sut.start(job(JOBS.rolloutStart, { placementId }));
    const waves = [['m1'], ['m2', 'm3']];
    for (const [wave, machines] of waves.entries()) {
      reads.rolloutPlan = 0;
      reads.placementPlan = 0;
      reads.slices = [];
      for (const systemId of machines) {
        // The machine job as its wave was released: its data is all it is handed.
        const queued = await queue.getJob(JOB_IDS.rolloutMachine(placementId, systemId));
        expect(queued?.data).toEqual({ placementId, wave, systemId, maxUnavailable: 2 });
        const out = await sut.machine(job(JOBS.rolloutMachine, queued!.data as Record<string, unknown>));
        expect(out).toMatchObject({ systemId, verified: true, reason: null });
      }
      const outcome = await sut.wave(job(JOBS.rolloutWave, { placementId, wave }));
      expect(outcome.result).toBe(wave === 0 ? 'next' : 'completed');
      expect(reads.rolloutPlan).toBe(1);
      expect(reads.placementPlan).toBe(0);
      expect([...new Set(reads.slices)].sort()).toEqual(machines);
    }
    const recs = await rollouts.machines<MachineRecord>(placementId);
    expect(recs.map((r) => r.state)).toEqual(['committed', 'committed', 'committed']);
    expect((await placements.get(placementId))?.status).toBe('completed');
  });

  it("frees a module object once every placement holding it ended, in the reconciler's pass, and keeps it while one lives", async () => {
    const now = new Date().toISOString();
    const record = (id: string, status: 'completed' | 'rolling-out') => ({
      id,
      request: {},
      status,
      reason: 'operator' as const,
      idempotencyKey: null,
      createdAt: now,
      updatedAt: now,
      error: null,
    });
    const lb = Buffer.from('\x7fELF lb');
    await placements.create(record('pl-gc-done', 'completed'));
    await placements.create(record('pl-gc-live', 'rolling-out'));
    await rollouts.putArtifact(artifactDigest(lb), lb, 'pl-gc-done');
    await rollouts.putArtifact(artifactDigest(object), object, 'pl-gc-done');
    await rollouts.putArtifact(artifactDigest(object), object, 'pl-gc-live');

    const out = await sut.reconcile();

    expect(out.artifactsFreed).toBe(1);
    expect(await rollouts.artifact(artifactDigest(lb))).toBeNull();
    expect(await rollouts.artifact(artifactDigest(object))).toEqual(object);
  });
});
