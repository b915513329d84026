import { join } from 'node:path';
import { loadOrCreateSecret } from './signing.keys';
import { secureDataDir } from './data.dir';
import { startEmbeddedRedis } from './redis.embedded';

/** Where the embedded Redis's password lives, beside the signing key (mode 0600). */
export const REDIS_PASSWORD_FILE = 'redis.password';

export interface RedisHandle {
  /** May carry a password: pass it to clients, never to a log line. */
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

/**
 * `REDIS_URL` when set, otherwise an embedded server with its data under `<dataDir>/redis` and
 * its password in `<keysDir>/redis.password`, so an operator can reach it with
 * `redis-cli -a "$(cat var/keys/redis.password)"` and a restart keeps the same one.
 */
export async function resolveRedis(cfg: { REDIS_URL?: string; IOPLANE_DATA_DIR: string; IOPLANE_KEYS_DIR?: string }): Promise<RedisHandle> {
  const { dataDir, keysDir } = secureDataDir(cfg);
  if (cfg.REDIS_URL) return { url: cfg.REDIS_URL, embedded: false, stop: async () => undefined };
  const password = loadOrCreateSecret(keysDir, REDIS_PASSWORD_FILE);
  const r = await startEmbeddedRedis({ dataDir: join(dataDir, 'redis'), password });
  return { url: r.url, embedded: true, stop: r.stop };
}
