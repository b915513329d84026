import Redis from 'ioredis';
import { freePort } from '../../libs/runtime/src/redis.embedded';
import { Harness, http, startHarness, until } from '../harness';
import { OwnRedis } from './fault.fixture';

describe('/readyz and API reads when the store fails', () => {
  const redis = new OwnRedis();
  let h: Harness;
  let admin: Redis;

  beforeAll(async () => {
    await redis.start();
    // No worker at first: the workers check fails on its own, nothing is closed mid-run.
    h = await startHarness({ redisUrl: redis.url, agents: false, worker: false });
    admin = new Redis(redis.url);
    // Generous: a Redis and a harness of its own start slowly on a loaded 2-core CI machine.
  }, 180_000);
  afterAll(async () => {
    if (!redis.running) await redis.start();
    await admin?.replicaof('NO', 'ONE').catch(() => undefined);
    admin?.disconnect();
    if (h) await h.stop().catch(() => undefined);
    await redis.stop();
  }, 120_000);

  const readyz = () => http(h.apiUrl, 'GET', '/readyz', undefined, { authorization: '' });

  it('names the workers check when no worker runs', async () => {
    const r = await readyz();
    expect(r.status).toBe(503);
    expect(r.body.error.message).toMatch(/workers \(no worker on queue/);
    expect(r.body.error.checks.workers.status).toBe('down');
    expect(r.body.error.checks.redis.status).toBe('up');
  });

  it('is ready on a primary with a worker', async () => {
    await h.startWorker();
    await until('the worker to be counted', async () => (await readyz()).status === 200, 30_000);
  });

  it('fails while the connection points at a read-only replica, naming the redis check, and recovers', async () => {
    // A replica of a primary that is not there: role:slave, read-only, every write refused.
    await admin.replicaof('127.0.0.1', await freePort());
    const r = await readyz();
    expect(r.status).toBe(503);
    expect(r.body.error.code).toBe('not_ready');
    expect(r.body.error.message).toMatch(/redis \(connected to a read-only replica/);
    expect(r.body.error.checks.redis.status).toBe('down');
    // A write meanwhile is the store's failure, not the API's: 503 with the shared code.
    const w = await http(h.apiUrl, 'POST', '/v1/tokens', { name: 'during-readonly', role: 'viewer' });
    expect({ status: w.status, code: w.body?.error?.code }).toEqual({ status: 503, code: 'store_unavailable' });
    await admin.replicaof('NO', 'ONE');
    // The worker's blocked reads were cut by the role change; it is counted again once it reconnects.
    await until('ready again on a primary', async () => (await readyz()).status === 200, 30_000);
  });

  it('answers a read during a Redis outage with 503 store_unavailable, not 500', async () => {
    await redis.kill();
    const r = await http(h.apiUrl, 'GET', '/v1/placements');
    expect({ status: r.status, code: r.body?.error?.code }).toEqual({ status: 503, code: 'store_unavailable' });
    const ready = await readyz();
    expect(ready.status).toBe(503);
    expect(ready.body.error.checks.redis.status).toBe('down');
    await redis.start();
    // Recovered by itself; and teardown then closes connections that are up, not ones mid-reconnect
    // (a BullMQ worker closed while its blocking client reconnects can wait forever: CI saw the
    // afterAll hang once).
    await until('ready again once Redis is back', async () => (await readyz()).status === 200, 60_000);
  });
});
