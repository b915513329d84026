import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { decideAcquire, decideClaim, MachineLease } from './machine.lease';
import { MachineLeased, RolloutRepository } from './rollout.repository';
import { StateKeys } from './state.keys';

const never = () => false;

describe('machine lease decisions', () => {
  const lease = (over: Partial<MachineLease> = {}): MachineLease => ({ owner: 'pl-a', gen: 3, holder: null, until: 0, ...over });

  it('a claim takes free machines and those of ended placements, all or none, naming who holds the rest', () => {
    const ok = decideClaim(
      'pl-b',
      new Map([
        ['m1', null],
        ['m2', lease({ owner: 'pl-old' })],
      ]),
      (o) => o === 'pl-old',
    );
    expect(ok).toEqual({
      ok: true,
      next: new Map([
        ['m1', lease({ owner: 'pl-b', gen: 1 })],
        ['m2', lease({ owner: 'pl-b', gen: 4 })],
      ]),
    });
    const refused = decideClaim(
      'pl-b',
      new Map([
        ['m1', null],
        ['m3', lease()],
        ['m2', lease()],
      ]),
      never,
    );
    expect(refused).toEqual({ ok: false, held: [{ owner: 'pl-a', machines: ['m2', 'm3'] }] });
  });

  it('another placement never takes a machine whose owner has not ended, even when its holder expired', () => {
    expect(decideAcquire(lease({ holder: 'job-1', until: 1 }), { owner: 'pl-b', holder: 'job-9', now: 1000, ttlMs: 10 }, never)).toEqual({
      ok: false,
      owner: 'pl-a',
      holder: 'job-1',
      why: 'owned',
    });
  });

  it('the same placement takes over an expired hold with a new generation; a live hold of another job waits', () => {
    expect(decideAcquire(lease({ holder: 'job-1', until: 999 }), { owner: 'pl-a', holder: 'job-1', now: 1000, ttlMs: 10 }, never)).toEqual({
      ok: true,
      next: lease({ gen: 4, holder: 'job-1', until: 1010 }),
    });
    expect(
      decideAcquire(lease({ holder: 'job-1', until: 2000 }), { owner: 'pl-a', holder: 'wave-0', now: 1000, ttlMs: 10 }, never),
    ).toMatchObject({ ok: false, why: 'held' });
  });
});

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
describe('machine leases and fenced writes on Redis', () => {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(process.env.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const repo = new RolloutRepository(redis, prefix);
  const ended = new Set<string>();
  const isEnded = async (id: string) => ended.has(id);

  beforeAll(() => redis.connect());
  afterAll(async () => {
    const keys = await redis.keys(new StateKeys(prefix).pattern);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it("refuses a stale holder's state write once the same placement's resumed job took the machine over", async () => {
    await repo.claimMachines('pl-a', ['m1'], isEnded);
    await repo.initMachines('pl-a', [{ systemId: 'm1', generation: 0, state: 'pending' }]);
    // The first job's hold ran out (its worker stalled): 1 ms lease.
    const first = await repo.acquireLease('m1', 'pl-a', 'pl-a.m.m1', 1, isEnded);
    if (!first.ok) throw new Error('first acquisition refused');
    await new Promise((r) => setTimeout(r, 5));
    const resumed = await repo.acquireLease('m1', 'pl-a', 'pl-a.m.m1', 60_000, isEnded);
    if (!resumed.ok) throw new Error('resumed acquisition refused');
    expect(resumed.fence.gen).toBeGreaterThan(first.fence.gen);

    const rec = (await repo.machine<{ systemId: string; generation: number; state: string }>('pl-a', 'm1'))!;
    expect(await repo.saveMachine('pl-a', { ...rec, state: 'loading' }, first.fence)).toBeNull();
    expect(await repo.renewLease(first.fence, 60_000)).toBe(false);
    expect(await repo.machine('pl-a', 'm1')).toEqual(rec);
    expect(await repo.saveMachine('pl-a', { ...rec, state: 'loading' }, resumed.fence)).toMatchObject({ state: 'loading', generation: 1 });
  });

  it('refuses a second placement on a leased machine, all or none, until the first ended', async () => {
    await repo.claimMachines('pl-x', ['m2', 'm3'], isEnded);
    const err = await repo.claimMachines('pl-y', ['m4', 'm3', 'm2'], isEnded).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MachineLeased);
    expect(err).toMatchObject({ code: 'machine_leased', held: [{ owner: 'pl-x', machines: ['m2', 'm3'] }] });
    // All or none: the free machine was not taken either.
    expect(await repo.lease('m4')).toBeNull();
    const other = await repo.acquireLease('m2', 'pl-y', 'pl-y.m.m2', 60_000, isEnded);
    expect(other).toMatchObject({ ok: false, owner: 'pl-x', why: 'owned' });

    // The owner's writes under an old fence stop once another placement took the machine over.
    const held = await repo.acquireLease('m2', 'pl-x', 'pl-x.w0', 60_000, isEnded);
    if (!held.ok) throw new Error('owner refused');
    ended.add('pl-x');
    await repo.claimMachines('pl-y', ['m4', 'm3', 'm2'], isEnded);
    expect(await repo.lease('m2')).toMatchObject({ owner: 'pl-y', holder: null });
    await repo.initMachines('pl-x', [{ systemId: 'm2', generation: 0, state: 'verifying' }]);
    expect(await repo.saveMachine('pl-x', { systemId: 'm2', generation: 0, state: 'committed' }, held.fence)).toBeNull();

    await repo.releaseLeases('pl-y', ['m2', 'm3', 'm4']);
    expect([await repo.lease('m2'), await repo.lease('m3'), await repo.lease('m4')]).toEqual([null, null, null]);
  });

  it('lets go of a hold without giving up the placement: the wave job then takes it', async () => {
    await repo.claimMachines('pl-w', ['m5'], isEnded);
    const job = await repo.acquireLease('m5', 'pl-w', 'pl-w.m.m5', 60_000, isEnded);
    if (!job.ok) throw new Error('refused');
    expect(await repo.acquireLease('m5', 'pl-w', 'pl-w.w0', 60_000, isEnded)).toMatchObject({
      ok: false,
      why: 'held',
      holder: 'pl-w.m.m5',
    });
    await repo.letGoLease(job.fence);
    expect(await repo.lease('m5')).toEqual({ owner: 'pl-w', gen: job.fence.gen, holder: null, until: 0 });
    expect(await repo.acquireLease('m5', 'pl-w', 'pl-w.w0', 60_000, isEnded)).toMatchObject({
      ok: true,
      fence: { gen: job.fence.gen + 1 },
    });
  });
});
