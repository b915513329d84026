import { rmSync } from 'node:fs';
import type { EmbeddedRedis } from '../libs/runtime/src/redis.embedded';

export default async function globalTeardown(): Promise<void> {
  const redis = (globalThis as Record<string, unknown>).__IOPLANE_TEST_REDIS__ as EmbeddedRedis | undefined;
  if (!redis) return;
  await redis.stop();
  rmSync(`var/test-redis-${process.pid}`, { recursive: true, force: true });
}
