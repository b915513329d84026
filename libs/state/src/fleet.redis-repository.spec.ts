import { StateKeys } from './state.keys';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { FleetMachine } from '@ioplane/domain';
import { RedisFleetRepository } from './fleet.redis-repository';

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
const url = process.env.REDIS_URL!;

function machine(systemId: string, zone: string, tags: string[], unprofiled = 0): FleetMachine {
  const devices = [{ id: `${systemId}/ens1f0`, kind: 'nic', profileId: 'intel-x710-9.20' }, ...Array.from({ length: unprofiled }, (_, i) => ({ id: `${systemId}/nic${i}`, kind: 'nic', profileId: null }))];
  return { systemId, hostname: `h-${systemId}`, zone, pool: 'edge', tags, devices } as unknown as FleetMachine;
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
    const first = await sut.replaceInventory([machine('aaa111', 'zone-a', ['edge']), machine('bbb222', 'zone-b', [], 1)]);
    expect(first).toMatchObject({ generation: 1, machines: 2, devices: 3, unprofiled: 1 });
    const second = await sut.replaceInventory([machine('ccc333', 'zone-a', [])]);
    expect(second.generation).toBe(2);
    expect((await sut.listMachines()).map((m) => m.systemId)).toEqual(['ccc333']);
    expect(await sut.getMachine('aaa111')).toBeNull();
    expect(await sut.meta()).toMatchObject({ generation: 2, machines: 1 });
  });

  it('filters by zone, pool and tag', async () => {
    await sut.replaceInventory([machine('aaa111', 'zone-a', ['edge']), machine('bbb222', 'zone-b', ['core'])]);
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
