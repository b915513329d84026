import Redis from 'ioredis';
import { mkdtempSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedRedis } from './redis.embedded';

describe('startEmbeddedRedis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ioplane-redis-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('serves a durable, non-evicting redis and stops it', async () => {
    const r = await startEmbeddedRedis({ dataDir: dir });
    const c = new Redis(r.url, { lazyConnect: true });
    try {
      await c.connect();
      await c.set('k', 'v');
      expect(await c.get('k')).toBe('v');
      expect(await c.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await c.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
    } finally {
      c.disconnect();
      await r.stop();
    }
    expect(() => process.kill(r.pid, 0)).toThrow();
    expect(existsSync(dir) && readdirSync(dir).length).toBeGreaterThan(0);
  });
});
