import type Redis from 'ioredis';
import { promises as fsp } from 'node:fs';
import { ModuleCatalog } from '@ioplane/catalog';
import { loadProfiles } from '@ioplane/profiles';
import { RedisModuleRepository } from '@ioplane/state';

export interface RedisCatalog {
  /** The module catalog on `redis` under the spec's prefix; kernel off, its build cache in a temp folder of its own. */
  catalog: ModuleCatalog;
  /** For afterAll, once the spec's queues are closed: removes every key under the prefix and the cache folder, and disconnects. */
  close(): Promise<void>;
}

/** For specs on real Redis: connects `redis` and opens a module catalog under `prefix` (see RedisCatalog). */
export async function openRedisCatalog(redis: Redis, prefix: string): Promise<RedisCatalog> {
  await redis.connect();
  const cacheDir = await fsp.mkdtemp('/tmp/ioplane-planning-spec-');
  const catalog = new ModuleCatalog(new RedisModuleRepository(redis, prefix), loadProfiles(), { cacheDir, kernel: 'off' });
  return {
    catalog,
    async close() {
      const keys = await redis.keys(`{${prefix}}*`);
      if (keys.length) await redis.del(...keys);
      redis.disconnect();
      await fsp.rm(cacheDir, { recursive: true, force: true });
    },
  };
}
