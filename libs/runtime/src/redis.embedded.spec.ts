import Redis from 'ioredis';
import { mkdtempSync, rmSync, existsSync, readdirSync, statSync, chmodSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedRedis } from './redis.embedded';
import { resolveRedis, REDIS_PASSWORD_FILE } from './redis.resolve';

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

  it('stops while it writes its first AOF (Redis drops the SIGTERM it gets then): stop() does not wait for ever', async () => {
    const r = await startEmbeddedRedis({ dataDir: join(dir, 'initial-aof') });
    const c = new Redis(r.url, { lazyConnect: true });
    try {
      await c.connect();
      // AOF off, keys in, then on again: Redis writes the initial AOF in a child, here slowed to
      // 100 ms a key, and refuses to exit until it is done, as a replica does after a full sync.
      await c.config('SET', 'appendonly', 'no');
      await c.mset(...Array.from({ length: 20 }, (_, i) => [`k${i}`, 'v']).flat());
      await c.config('SET', 'rdb-key-save-delay', '100000');
      await c.config('SET', 'appendonly', 'yes');
      expect(await c.info('persistence')).toMatch(/aof_rewrite_in_progress:1/);
    } finally {
      c.disconnect();
    }
    await r.stop();
    expect(() => process.kill(r.pid, 0)).toThrow();
  }, 30_000);

  it('wants a password, listens on loopback only, and keeps the password off its command line', async () => {
    const r = await startEmbeddedRedis({ dataDir: join(dir, 'auth') });
    const anon = new Redis({
      host: '127.0.0.1',
      port: r.port,
      lazyConnect: true,
      enableReadyCheck: false,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    const authed = new Redis(r.url, { lazyConnect: true });
    try {
      expect(r.url).toBe(`redis://:${r.password}@127.0.0.1:${r.port}`);
      expect(r.password.length).toBeGreaterThanOrEqual(32);
      await anon.connect();
      await expect(anon.get('k')).rejects.toThrow(/NOAUTH/);
      await authed.connect();
      expect(await authed.config('GET', 'bind')).toEqual(['bind', '127.0.0.1']);
      expect(await authed.config('GET', 'protected-mode')).toEqual(['protected-mode', 'yes']);
      expect(readFileSync(`/proc/${r.pid}/cmdline`, 'utf8')).not.toContain(r.password);
      expect(statSync(join(dir, 'auth')).mode & 0o777).toBe(0o700);
    } finally {
      anon.disconnect();
      authed.disconnect();
      await r.stop();
    }
  });

  it('refuses a password that would need encoding in REDIS_URL', async () => {
    await expect(startEmbeddedRedis({ dataDir: join(dir, 'bad'), password: 'short' })).rejects.toThrow(/password/);
    await expect(startEmbeddedRedis({ dataDir: join(dir, 'bad'), password: 'has:colons@and/slashes-0123456789' })).rejects.toThrow(
      /password/,
    );
  });
});

describe('resolveRedis', () => {
  const data = mkdtempSync(join(tmpdir(), 'ioplane-data-'));
  afterAll(() => rmSync(data, { recursive: true, force: true }));

  it('keeps the embedded Redis password with the keys (0600), the same across restarts, and narrows the data folder', async () => {
    chmodSync(data, 0o755);
    const first = await resolveRedis({ IOPLANE_DATA_DIR: data });
    let password: string;
    try {
      password = readFileSync(join(data, 'keys', REDIS_PASSWORD_FILE), 'utf8').trim();
      expect(new URL(first.url).password).toBe(password);
      expect(statSync(join(data, 'keys', REDIS_PASSWORD_FILE)).mode & 0o777).toBe(0o600);
      expect(statSync(data).mode & 0o777).toBe(0o700);
    } finally {
      await first.stop();
    }
    const again = await resolveRedis({ IOPLANE_DATA_DIR: data });
    await again.stop();
    expect(new URL(again.url).password).toBe(password);
  });

  it('uses REDIS_URL as given, password included', async () => {
    const r = await resolveRedis({ IOPLANE_DATA_DIR: data, REDIS_URL: 'redis://:pw@10.1.2.3:6380' });
    expect(r).toMatchObject({ url: 'redis://:pw@10.1.2.3:6380', embedded: false });
  });
});
