import Redis from 'ioredis';
import { randomUUID } from 'node:crypto';
import { MaasClient, RawEvent } from '@ioplane/maas';
import { ScriptedMaas, SeenRequest, TEST_API_KEY } from '@ioplane/maas/testing';
import { RedisFleetRepository, StateKeys } from '@ioplane/state';
import { watchMaasEvents } from './maas-event.watch';

// Real Redis: REDIS_URL, or the server test/global-setup.ts spawned.
const url = process.env.REDIS_URL!;

/** MAAS's events query: newest first; with `after`, the oldest `limit` past it. */
function answerEvents(events: RawEvent[]) {
  return (req: SeenRequest) => {
    if (req.path !== 'events/' || req.query.get('op') !== 'query') return { status: 404, text: 'not found' };
    const limit = Number(req.query.get('limit') ?? 100);
    const desc = (a: RawEvent, b: RawEvent) => b.id - a.id;
    const page = req.query.has('after')
      ? events
          .filter((e) => e.id > Number(req.query.get('after')))
          .slice(0, limit)
          .sort(desc)
      : [...events].sort(desc).slice(0, limit);
    return { json: { count: page.length, events: page, next_uri: '', prev_uri: '' } };
  };
}

const status = (id: number, node: string, from: string, to: string): RawEvent => ({
  id,
  node,
  hostname: `host-${node}`,
  level: 'DEBUG',
  type: 'Node changed status',
  description: `From '${from}' to '${to}'`,
});

describe(watchMaasEvents.name, () => {
  const prefix = `ioplane-test-${randomUUID().slice(0, 8)}`;
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  const repo = new RedisFleetRepository(redis, prefix);
  const maas = new ScriptedMaas();
  let client: MaasClient;
  const log: RawEvent[] = [];

  beforeAll(async () => {
    await redis.connect();
    client = new MaasClient({ url: await maas.start(), apiKey: TEST_API_KEY, retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 5 } });
    maas.fallback = answerEvents(log);
  });
  afterAll(async () => {
    client.close();
    await maas.close();
    const keys = await redis.keys(new StateKeys(prefix).pattern);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it("on its first poll only learns the newest event: history before ioplane is the full sync's", async () => {
    log.push(status(1, 'aaa', 'Deploying', 'Deployed'), status(2, 'bbb', 'Allocated', 'Deploying'));
    await expect(watchMaasEvents(client, repo)).resolves.toEqual({ events: 0, cursor: 2, deployed: [] });
    expect(await repo.getEventCursor()).toBe(2);
  });

  it('then reports the machines that reached Deployed since the stored cursor, each once, and moves the cursor', async () => {
    log.push(
      status(3, 'bbb', 'Deploying', 'Deployed'),
      status(4, 'ccc', 'Deploying', 'Failed deployment'),
      status(5, 'ddd', 'Deploying', 'Deployed'),
      status(6, 'bbb', 'Deploying', 'Deployed'),
    );
    await expect(watchMaasEvents(client, repo, 2)).resolves.toEqual({ events: 4, cursor: 6, deployed: ['bbb', 'ddd'] });
    expect(await repo.getEventCursor()).toBe(6);
    await expect(watchMaasEvents(client, repo)).resolves.toEqual({ events: 0, cursor: 6, deployed: [] });
  });

  it('resumes from the cursor Redis keeps, whichever process polled before', async () => {
    log.push(status(7, 'eee', 'Deploying', 'Deployed'));
    const other = new RedisFleetRepository(redis, prefix);
    await expect(watchMaasEvents(client, other)).resolves.toEqual({ events: 1, cursor: 7, deployed: ['eee'] });
  });
});
