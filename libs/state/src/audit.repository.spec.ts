import { StateKeys } from './state.keys';
import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { AuditEntry, AuditRepository } from './audit.repository';

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
const url = process.env.REDIS_URL!;

const entry = (i: number, result: AuditEntry['result'] = 'ok'): AuditEntry => ({
  at: new Date(0).toISOString(),
  tokenId: null,
  tokenName: null,
  role: null,
  method: 'POST',
  path: `/v1/x/${i}`,
  status: result === 'refused' ? 401 : 200,
  result,
});

describe(AuditRepository.name, () => {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const sut = new AuditRepository(redis, prefix, { keep: 5, keepRefused: 3 });

  beforeAll(() => redis.connect());
  afterAll(async () => {
    const keys = await redis.keys(new StateKeys(prefix).pattern);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('keeps refused calls apart from real ones, each list capped on its own, newest first', async () => {
    for (let i = 0; i < 4; i++) await sut.append(entry(i));
    for (let i = 0; i < 50; i++) await sut.appendRefused(entry(100 + i, 'refused'));
    expect((await sut.list()).map((e) => e.path)).toEqual(['/v1/x/3', '/v1/x/2', '/v1/x/1', '/v1/x/0']);
    expect((await sut.listRefused()).map((e) => e.path)).toEqual(['/v1/x/149', '/v1/x/148', '/v1/x/147']);
    expect(await redis.llen(new StateKeys(prefix).auditRefused)).toBe(3);
    for (let i = 4; i < 9; i++) await sut.append(entry(i));
    expect((await sut.list(100)).length).toBe(5);
  });
});
