import { startEmbeddedRedis } from '../libs/runtime/src/redis.embedded';
import { requireCapabilities } from './require-capabilities';

/**
 * Tests use a real Redis: REDIS_URL when given, else one spawned for this run and stopped in
 * teardown. The spawned one wants a password (random per run, carried in REDIS_URL) like the
 * product's embedded Redis, so a client that drops the password fails here first.
 */
export default async function globalSetup(): Promise<void> {
  await requireCapabilities();
  if (process.env.REDIS_URL) return;
  const redis = await startEmbeddedRedis({ dataDir: `var/test-redis-${process.pid}` });
  process.env.REDIS_URL = redis.url;
  (globalThis as Record<string, unknown>).__IOPLANE_TEST_REDIS__ = redis;
}
