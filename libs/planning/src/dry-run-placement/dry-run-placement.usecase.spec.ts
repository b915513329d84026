import { Queue, QueueEvents, Worker } from 'bullmq';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { fleet } from '@ioplane/domain/testing';
import { ModuleCatalog } from '@ioplane/catalog';
import { loadProfiles } from '@ioplane/profiles';
import { JOBS, QUEUES, queuePrefix } from '@ioplane/queue';
import { RedisFleetRepository, RolloutRepository } from '@ioplane/state';
import { PlacementInputError, PlanValidationError } from '../placement.planner';
import { DryRunPlacement } from './dry-run-placement.usecase';
import { planOf } from './dry-run.outcome';
import { DryRunError, QueuedDryRun } from './queued-dry-run';
import { openRedisCatalog, type RedisCatalog } from '../testing';

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
const url = process.env.REDIS_URL!;
const request = (over: Record<string, unknown> = {}) => ({ selector: { zones: ['zone-a'] }, modules: [{ name: 'ddos-drop' }], ...over });

describe(DryRunPlacement.name, () => {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const fleetRepo = new RedisFleetRepository(redis, prefix);
  const connection = { ...redis.options, lazyConnect: false, maxRetriesPerRequest: null };
  const queue = new Queue(QUEUES.dryRun, { connection, prefix: queuePrefix(prefix) });
  const events = new QueueEvents(QUEUES.dryRun, { connection, prefix: queuePrefix(prefix) });
  let worker: Worker | null = null;
  let catalog: ModuleCatalog;
  let opened: RedisCatalog;
  const sut = () =>
    new DryRunPlacement({ fleet: fleetRepo, catalog, profiles: loadProfiles(), rollouts: new RolloutRepository(redis, prefix) });
  /** The worker's side, as DryRunProcessor runs it. */
  const startWorker = (handle = (data: unknown) => sut().execute(data as never)) => {
    worker = new Worker(QUEUES.dryRun, async (job) => (job.name === JOBS.dryRun ? handle(job.data) : null), {
      connection,
      prefix: queuePrefix(prefix),
    });
    return worker.waitUntilReady();
  };
  const stopWorker = async () => {
    await worker?.close();
    worker = null;
  };
  const stateKeys = async () => (await redis.keys(`{${prefix}}:state:*`)).filter((k) => !k.endsWith(':modules:reports')).sort();

  beforeAll(async () => {
    opened = await openRedisCatalog(redis, prefix);
    catalog = opened.catalog;
    await events.waitUntilReady();
    await fleetRepo.replaceInventory(fleet().host().host({ status: 4, statusName: 'Ready' }).build());
  });
  afterEach(stopWorker);
  afterAll(async () => {
    await events.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await opened.close();
  });

  it('plans the request and stores nothing', async () => {
    const before = await stateKeys();
    const out = await sut().execute({ request: request() });
    expect(out.ok).toBe(true);
    const plan = planOf(out);
    expect(plan.placementId).toBe('dry-run');
    expect(plan.machines.map((m) => m.systemId)).toEqual(['h1']);
    expect(plan.skipped).toEqual([expect.objectContaining({ systemId: 'h2', reason: expect.stringMatching(/Ready/) })]);
    expect(await stateKeys()).toEqual(before);
  });

  it("answers a refusal as data, made again into the planner's error on the caller's side", async () => {
    const out = await sut().execute({ request: request({ modules: [{ name: 'no-such-module' }] }) });
    expect(out).toEqual({ ok: false, error: { code: 'not_found', field: 'modules.0.name', message: 'no module named no-such-module' } });
    expect(() => planOf(out)).toThrow(PlacementInputError);
    const invalid = planOf.bind(null, {
      ok: false,
      error: { code: 'invalid_plan', violations: [{ systemId: 'h1', constraint: 'split_chain', message: 'm' } as never] },
    });
    expect(invalid).toThrow(PlanValidationError);
  });

  describe(QueuedDryRun.name, () => {
    const api = (deadlineMs = 120_000) => new QueuedDryRun({ queue, events, deadlineMs });

    it('gets the plan a worker made through the queue', async () => {
      await startWorker();
      const plan = await api().execute({ request: request() });
      expect(plan.machines.map((m) => m.systemId)).toEqual(['h1']);
    });

    it('throws the refusal the worker answered with, field and code as the planner gave them', async () => {
      await startWorker();
      const err = await api()
        .execute({ request: request({ selector: { zones: ['zone-z'] } }) })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PlacementInputError);
      expect(err).toMatchObject({ code: 'unprocessable', field: 'selector' });
    });

    it('gives up at its deadline when no worker answers, and drops the job nobody took', async () => {
      const err = await api(300)
        .execute({ request: request() })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DryRunError);
      expect(err).toMatchObject({ code: 'dry_run_timeout' });
      expect(await queue.getJob((err as DryRunError).jobId!)).toBeUndefined();
    });

    it('reports a job that failed in the worker as such, not as a timeout', async () => {
      await startWorker(async () => {
        throw new Error('catalog unavailable');
      });
      const err = await api()
        .execute({ request: request() })
        .catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'dry_run_failed', message: expect.stringMatching(/catalog unavailable/) });
    });
  });
});
