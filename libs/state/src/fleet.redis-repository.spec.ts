import { StateKeys } from './state.keys';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { machine } from '@ioplane/domain/testing';
import { RedisFleetRepository } from './fleet.redis-repository';

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
const url = process.env.REDIS_URL!;

/** A host with an X710 and `unprofiled` Broadcom cards (no firmware profile). */
function host(systemId: string, zone: string, tags: string[], unprofiled = 0) {
  return machine({
    systemId,
    hostname: `h-${systemId}`,
    zone,
    pool: 'edge',
    tags,
    cards: ['nic', ...Array<'bcm57414'>(unprofiled).fill('bcm57414')],
  });
}

describe(RedisFleetRepository.name, () => {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const sut = new RedisFleetRepository(redis, prefix);

  beforeAll(() => redis.connect());
  afterAll(async () => {
    const keys = await redis.keys(new StateKeys(prefix).pattern);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('replaces the inventory atomically and bumps the generation', async () => {
    const first = await sut.replaceInventory([host('aaa111', 'zone-a', ['edge']), host('bbb222', 'zone-b', [], 1)]);
    expect(first).toMatchObject({ generation: 1, machines: 2, devices: 3, unprofiled: 1 });
    const second = await sut.replaceInventory([host('ccc333', 'zone-a', [])]);
    expect(second.generation).toBe(2);
    expect((await sut.listMachines()).map((m) => m.systemId)).toEqual(['ccc333']);
    expect(await sut.getMachine('aaa111')).toBeNull();
    expect(await sut.meta()).toMatchObject({ generation: 2, machines: 1 });
  });

  it('filters by zone, pool and tag', async () => {
    await sut.replaceInventory([host('aaa111', 'zone-a', ['edge']), host('bbb222', 'zone-b', ['core'])]);
    expect((await sut.listMachines({ zone: 'zone-b' })).map((m) => m.systemId)).toEqual(['bbb222']);
    expect((await sut.listMachines({ tag: 'edge' })).map((m) => m.systemId)).toEqual(['aaa111']);
    expect(await sut.listMachines({ pool: 'nope' })).toEqual([]);
  });

  it('only moves the event cursor forward', async () => {
    expect(await sut.getEventCursor()).toBeNull();
    expect(await sut.advanceEventCursor(10)).toBe(10);
    expect(await sut.advanceEventCursor(7)).toBe(10);
    expect(await sut.getEventCursor()).toBe(10);
  });
});
