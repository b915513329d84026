import { Queue } from 'bullmq';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { fleet } from '@ioplane/domain/testing';
import { ModuleCatalog } from '@ioplane/catalog';
import { JOBS, QUEUES, queuePrefix } from '@ioplane/queue';
import { RedisFleetRepository, RedisPlacementRepository } from '@ioplane/state';
import { MachineLeased, RolloutRepository } from '@ioplane/state';
import { placementRequestSchema } from '../placement-request.schema';
import { PlacementInputError } from '../placement.planner';
import { IdempotencyConflictError, SubmitPlacement, SubmitPlacementDeps } from './submit-placement.usecase';
import { openRedisCatalog, type RedisCatalog } from '../testing';

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
const url = process.env.REDIS_URL!;

const request = (over: Record<string, unknown> = {}) =>
  placementRequestSchema.parse({ selector: { zones: ['zone-a'] }, modules: [{ name: 'ddos-drop' }], ...over });

describe(SubmitPlacement.name, () => {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const placements = new RedisPlacementRepository(redis, prefix);
  const fleetRepo = new RedisFleetRepository(redis, prefix);
  const rollouts = new RolloutRepository(redis, prefix);
  const queue = new Queue(QUEUES.placement, { connection: { ...redis.options, lazyConnect: false }, prefix: queuePrefix(prefix) });
  let catalog: ModuleCatalog;
  let opened: RedisCatalog;
  let ids = 0;
  const sut = (over: Partial<SubmitPlacementDeps> = {}) =>
    new SubmitPlacement({ placements, catalog, fleet: fleetRepo, leases: rollouts, planQueue: queue, newId: () => `pl-${++ids}`, ...over });
  const submitPlacement = (request: unknown, idempotencyKey: string | null, s = sut(), leaseNow = false) =>
    s.execute({ request: request as never, idempotencyKey, leaseNow });

  /**
   * Every key of the installation (state and queue) with its value, to show nothing changed; but
   * the catalog's report cache, which checking a module may fill whatever becomes of the request.
   */
  const snapshot = async () => {
    const keys = (await redis.keys(`{${prefix}}*`)).filter((k) => !k.endsWith(':modules:reports')).sort();
    return Promise.all(keys.map(async (k) => [k, await redis.dumpBuffer(k)] as const));
  };

  beforeAll(async () => {
    opened = await openRedisCatalog(redis, prefix);
    catalog = opened.catalog;
    await fleetRepo.replaceInventory(
      fleet()
        .host({ cards: ['nic'] })
        .host({ cards: ['smartnic'], zone: 'zone-b', status: 4, statusName: 'Ready' })
        .build(),
    );
  });
  afterAll(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
    await opened.close();
  });

  it('stores the request as a queued placement and queues exactly one plan job for it', async () => {
    const { record, created } = await submitPlacement(request(), 'key-1');
    expect(created).toBe(true);
    expect(record).toMatchObject({ status: 'queued', idempotencyKey: 'key-1', error: null });
    expect(await placements.get(record.id)).toEqual(record);
    const jobs = await queue.getJobs(['waiting']);
    expect(jobs.map((j) => [j.name, j.id, j.data, j.opts.removeOnComplete])).toEqual([
      [JOBS.plan, record.id, { placementId: record.id }, 1000],
    ]);
  });

  it('answers a repeated Idempotency-Key with the same placement and queues nothing more; a different body under it is refused', async () => {
    const first = await submitPlacement(request(), 'key-2');
    const before = await snapshot();
    // The same request with a default spelled out is the same request.
    const again = await submitPlacement(
      placementRequestSchema.parse({ modules: [{ name: 'ddos-drop' }], selector: { zones: ['zone-a'] }, policy: { hostCoreBudget: 4 } }),
      'key-2',
    );
    expect(again).toEqual({ record: first.record, created: false });
    const err = await submitPlacement(request({ modules: [{ name: 'l4-lb' }] }), 'key-2').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(IdempotencyConflictError);
    expect(err).toMatchObject({ code: 'idempotency_conflict', field: 'Idempotency-Key', placementId: first.record.id });
    expect(await snapshot()).toEqual(before);
  });

  it.each([
    ['an unknown module', request({ modules: [{ name: 'no-such-module' }] }), { code: 'not_found', field: 'modules.0.name' }],
    [
      'a module at another version',
      request({ modules: [{ name: 'ddos-drop', version: '0.0.0-nope' }] }),
      { code: 'unprocessable', field: 'modules.0.version' },
    ],
    ['a selector matching no host', request({ selector: { zones: ['zone-z'] } }), { code: 'unprocessable', field: 'selector' }],
  ])('refuses %s, leaving the store and the queue as they were', async (_what, req, want) => {
    const before = await snapshot();
    const err = await submitPlacement(req, 'key-refused').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlacementInputError);
    expect(err).toMatchObject(want);
    expect(await snapshot()).toEqual(before);
  });

  it('removes the stored placement again when its plan job cannot be queued, so a retry with the same key is accepted', async () => {
    const before = await snapshot();
    const down = new Error('queue down');
    const refusing = { name: QUEUES.placement, add: () => Promise.reject(down) };
    await expect(submitPlacement(request(), 'key-3', sut({ planQueue: refusing }))).rejects.toBe(down);
    expect(await snapshot()).toEqual(before);
    await expect(submitPlacement(request(), 'key-3')).resolves.toMatchObject({ created: true });
  });

  it("leases the selector's machines when asked to, and refuses a placement whose machines another one holds, leaving nothing of it", async () => {
    const first = await submitPlacement(request(), 'key-4', sut(), true);
    const before = await snapshot();
    const err = await submitPlacement(request(), 'key-5', sut(), true).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MachineLeased);
    expect((err as MachineLeased).held).toEqual([expect.objectContaining({ owner: first.record.id, machines: ['h1'] })]);
    expect(await snapshot()).toEqual(before);
    // Without leaseNow the plan job claims them later: the submission itself is accepted.
    await expect(submitPlacement(request(), 'key-6')).resolves.toMatchObject({ created: true });
  });

  it('validates its command: a request the schema refuses never reaches the store', async () => {
    const before = await snapshot();
    await expect(submitPlacement({ selector: { zones: 'zone-a' }, modules: [] }, 'key-7')).rejects.toMatchObject({ name: 'ZodError' });
    expect(await snapshot()).toEqual(before);
  });
});
