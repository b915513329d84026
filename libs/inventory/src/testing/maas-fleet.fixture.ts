import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { MaasClient } from '@ioplane/maas';
import { ScriptedMaas, TEST_API_KEY } from '@ioplane/maas/testing';
import { RedisFleetRepository, StateKeys } from '@ioplane/state';

export interface MaasAndFleet {
  /** The spec's own key prefix. */
  prefix: string;
  /** On real Redis: REDIS_URL, or the server test/global-setup.ts spawned. */
  redis: Redis;
  repo: RedisFleetRepository;
  maas: ScriptedMaas;
  /** A client of `maas` with the test key, retrying once after a millisecond; set in beforeAll. */
  client: MaasClient;
}

/**
 * For specs of the use cases that read MAAS into the fleet: a scripted MAAS and a fleet repository
 * under a prefix of the spec's own, started in a beforeAll; afterAll closes both and removes the
 * prefix's keys. Call it inside the spec's describe.
 */
export function useMaasAndFleet(): MaasAndFleet {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(process.env.REDIS_URL!, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const f: MaasAndFleet = { prefix, redis, repo: new RedisFleetRepository(redis, prefix), maas: new ScriptedMaas(), client: null! };
  beforeAll(async () => {
    await redis.connect();
    const url = await f.maas.start();
    f.client = new MaasClient({ url, apiKey: TEST_API_KEY, retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 5 } });
  });
  afterAll(async () => {
    f.client.close();
    await f.maas.close();
    const keys = await redis.keys(new StateKeys(prefix).pattern);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });
  return f;
}
