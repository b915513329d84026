import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { RolloutRepository } from './rollout.repository';
import { StateKeys } from './state.keys';

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
describe('artifacts: held by the placements that planned them, freed when every holder ended', () => {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const keys = new StateKeys(prefix);
  const redis = new Redis(process.env.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const repo = new RolloutRepository(redis, prefix);
  const acl = { digest: 'a'.repeat(64), bytes: Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x00, 0xff, 0x01]) };
  const lb = { digest: 'b'.repeat(64), bytes: Buffer.from('\x7fELF lb') };
  const endedOf = (ids: string[]) => async (asked: string[]) => new Set(asked.filter((id) => ids.includes(id)));

  beforeAll(() => redis.connect());
  beforeEach(async () => {
    const all = await redis.keys(keys.pattern);
    if (all.length) await redis.del(...all);
  });
  afterAll(async () => {
    const all = await redis.keys(keys.pattern);
    if (all.length) await redis.del(...all);
    redis.disconnect();
  });

  it('keeps an object while any placement that planned with it is live, byte for byte', async () => {
    await repo.putArtifact(acl.digest, acl.bytes, 'p1');
    await repo.putArtifact(acl.digest, acl.bytes, 'p2');
    await repo.putArtifact(lb.digest, lb.bytes, 'p2');

    expect(await repo.sweepArtifacts(endedOf(['p1']))).toBe(0);
    expect(await repo.artifact(acl.digest)).toEqual(acl.bytes);
    expect(await redis.smembers(keys.artifactHolders(acl.digest))).toEqual(['p2']);

    expect(await repo.sweepArtifacts(endedOf(['p1', 'p2']))).toBe(2);
    expect(await repo.artifact(acl.digest)).toBeNull();
    expect(await repo.artifact(lb.digest)).toBeNull();
    // Nothing of the artifacts is left behind: no holders, no listing.
    expect((await redis.keys(keys.pattern)).sort()).toEqual([]);
  });

  it('asks about every holder once, and frees nothing when none ended', async () => {
    await repo.putArtifact(acl.digest, acl.bytes, 'p1');
    await repo.putArtifact(lb.digest, lb.bytes, 'p1');
    const asked: string[][] = [];
    expect(
      await repo.sweepArtifacts(async (ids) => {
        asked.push(ids);
        return new Set();
      }),
    ).toBe(0);
    expect(asked).toEqual([['p1']]);
    expect(await repo.artifact(lb.digest)).toEqual(lb.bytes);
  });

  it('a placement planned after a sweep freed an object stores it again', async () => {
    await repo.putArtifact(acl.digest, acl.bytes, 'p1');
    expect(await repo.sweepArtifacts(endedOf(['p1']))).toBe(1);
    await repo.putArtifact(acl.digest, acl.bytes, 'p3');
    expect(await repo.artifact(acl.digest)).toEqual(acl.bytes);
    expect(await repo.sweepArtifacts(endedOf(['p1']))).toBe(0);
  });
});
