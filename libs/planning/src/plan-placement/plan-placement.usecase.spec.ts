import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { createHash, randomUUID } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { fleet } from '@ioplane/domain/testing';
import { ModuleCatalog } from '@ioplane/catalog';
import { loadProfiles } from '@ioplane/profiles';
import { JOBS, QUEUES, queuePrefix } from '@ioplane/queue';
import {
  PlacementRecord,
  RedisFleetRepository,
  RedisModuleRepository,
  RedisPlacementRepository,
  RolloutRepository,
  StateKeys,
} from '@ioplane/state';
import { placementRequestSchema } from '../placement-request.schema';
import type { StoredPlan } from '../placement.plan';
import { PlanPlacement } from './plan-placement.usecase';

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
const url = process.env.REDIS_URL!;

describe(PlanPlacement.name, () => {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const placements = new RedisPlacementRepository(redis, prefix);
  const rollouts = new RolloutRepository(redis, prefix);
  const fleetRepo = new RedisFleetRepository(redis, prefix);
  const connection = { ...redis.options, lazyConnect: false };
  const rolloutQueue = new Queue(QUEUES.rollout, { connection, prefix: queuePrefix(prefix) });
  const fleetQueue = new Queue(QUEUES.fleet, { connection, prefix: queuePrefix(prefix) });
  let catalog: ModuleCatalog;
  let cacheDir: string;
  let n = 0;
  // X710 hosts edge-01..edge-05 in zone-a; each test places on hosts of its own, since a placement keeps its machines leased.
  const hosts = fleet().host().host().host().host().host().build();
  const on = (...hostnames: string[]) => ({ selector: { hostnames } });

  /** Counts the placement record reads a plan job makes. */
  let reads = 0;
  const counted = new Proxy(placements, {
    get: (t, k) => (k === 'get' ? (id: string) => (reads++, t.get(id)) : Reflect.get(t, k, t)),
  });
  const sut = () =>
    new PlanPlacement({ placements: counted, rollouts, fleet: fleetRepo, catalog, profiles: loadProfiles(), rolloutQueue, fleetQueue });

  async function stored(over: Record<string, unknown> = {}, status: PlacementRecord['status'] = 'queued'): Promise<string> {
    const id = `pl-spec-${++n}`;
    const request = placementRequestSchema.parse({ selector: { zones: ['zone-a'] }, modules: [{ name: 'ddos-drop' }], ...over });
    const now = new Date().toISOString();
    await placements.create({ id, request, status, reason: 'operator', idempotencyKey: null, createdAt: now, updatedAt: now, error: null });
    return id;
  }
  const startJobs = async () =>
    (await rolloutQueue.getJobs(['waiting']))
      .filter((j) => j.name === JOBS.rolloutStart)
      .map((j) => j.id)
      .sort();

  beforeAll(async () => {
    await redis.connect();
    cacheDir = await fsp.mkdtemp('/tmp/ioplane-plan-spec-');
    catalog = new ModuleCatalog(new RedisModuleRepository(redis, prefix), loadProfiles(), { cacheDir, kernel: 'off' });
    await fleetRepo.replaceInventory(hosts);
  });
  beforeEach(() => {
    reads = 0;
  });
  afterAll(async () => {
    for (const q of [rolloutQueue, fleetQueue]) {
      await q.obliterate({ force: true });
      await q.close();
    }
    const keys = await redis.keys(`{${prefix}}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
    await fsp.rm(cacheDir, { recursive: true, force: true });
  });

  it('plans a stored placement, reading its record once, leases the machines and queues its rollout', async () => {
    const id = await stored(on('edge-01', 'edge-02'));
    const progress: number[] = [];
    const r = await sut().execute({ placementId: id }, async (p) => progress.push(p.percent));
    expect(r).toEqual({ placementId: id, complete: true, machines: 2 });
    expect(reads).toBe(1);
    expect(progress).toEqual([10, 100]);
    expect((await placements.get(id))?.status).toBe('planned');
    const plan = await placements.getPlan<StoredPlan>(id);
    expect(plan?.machines.map((m) => m.systemId).sort()).toEqual(['h1', 'h2']);
    // The rollout ships the planned build by digest: the bytes are stored under the sha256 they hash to.
    const artifact = plan!.modules[0].artifact!;
    expect(artifact).toMatchObject({ name: 'ddos-drop', digest: expect.stringMatching(/^[0-9a-f]{64}$/), program: expect.any(String) });
    const bytes = await rollouts.artifact(artifact.digest);
    expect(bytes && createHash('sha256').update(bytes).digest('hex')).toBe(artifact.digest);
    // Held by this placement: a sweep keeps them while it lives.
    expect(await redis.smembers(new StateKeys(prefix).artifactHolders(artifact.digest))).toContain(id);
    expect(await startJobs()).toContain(`${id}.start`);
    // Leased to it: another placement on these machines is refused.
    await expect(rollouts.claimMachines('pl-other', ['h1'], async () => false)).rejects.toMatchObject({ code: 'machine_leased' });
  });

  it('does not solve a stored plan again (at-least-once delivery): it only makes sure the rollout is queued', async () => {
    const id = await stored(on('edge-03'));
    await sut().execute({ placementId: id });
    const first = await placements.getPlan<StoredPlan>(id);
    await placements.setStatus(id, 'rolling-out');
    await sut().execute({ placementId: id });
    expect(await placements.getPlan<StoredPlan>(id)).toEqual(first);
    expect((await placements.get(id))?.status).toBe('rolling-out');
    expect((await startJobs()).filter((j) => j === `${id}.start`)).toHaveLength(1);
  });

  it('leaves a placement cancelled before its plan job alone', async () => {
    const id = await stored({}, 'cancelled');
    await expect(sut().execute({ placementId: id })).resolves.toEqual({ placementId: id, complete: false, machines: 0 });
    expect(await placements.getPlan(id)).toBeNull();
  });

  it('stores the plan but starts no rollout when the placement was cancelled while it was solved', async () => {
    const id = await stored(on('edge-04'));
    // What the API's cancel does to a placement that is planning, here while it is solved.
    const cancel = async () => {
      await rollouts.setControl(id, 'cancel');
      await placements.setStatus(id, 'cancelled');
    };
    await sut().execute({ placementId: id }, async (p) => p.percent === 10 && cancel());
    expect(await placements.getPlan(id)).not.toBeNull();
    expect((await placements.get(id))?.status).toBe('cancelled');
    expect(await startJobs()).not.toContain(`${id}.start`);
  });

  it('fails the placement, naming the holder, when another placement leases its machines', async () => {
    const holder = await stored(on('edge-05'), 'rolling-out');
    await rollouts.claimMachines(holder, ['h5'], async () => false);
    const id = await stored(on('edge-05'));
    await sut().execute({ placementId: id });
    expect(await placements.get(id)).toMatchObject({
      status: 'failed',
      error: expect.stringMatching(new RegExp(`^machine_leased: .*${holder}`)),
    });
    expect(await startJobs()).not.toContain(`${id}.start`);
  });

  it('refuses a command that names no placement id', async () => {
    await expect(sut().execute({ placementId: 'not-an-id' })).rejects.toMatchObject({ name: 'ZodError' });
  });
});
