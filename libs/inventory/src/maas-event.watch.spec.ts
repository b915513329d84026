import type { RawEvent } from '@ioplane/maas';
import type { SeenRequest } from '@ioplane/maas/testing';
import { RedisFleetRepository } from '@ioplane/state';
import { watchMaasEvents } from './maas-event.watch';
import { useMaasAndFleet } from './testing';

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
  const f = useMaasAndFleet();
  const { prefix, redis, repo, maas } = f;
  const log: RawEvent[] = [];

  beforeAll(() => {
    maas.fallback = answerEvents(log);
  });

  it("on its first poll only learns the newest event: history before ioplane is the full sync's", async () => {
    log.push(status(1, 'aaa', 'Deploying', 'Deployed'), status(2, 'bbb', 'Allocated', 'Deploying'));
    await expect(watchMaasEvents(f.client, repo)).resolves.toEqual({ events: 0, cursor: 2, deployed: [] });
    expect(await repo.getEventCursor()).toBe(2);
  });

  it('then reports the machines that reached Deployed since the stored cursor, each once, and moves the cursor', async () => {
    log.push(
      status(3, 'bbb', 'Deploying', 'Deployed'),
      status(4, 'ccc', 'Deploying', 'Failed deployment'),
      status(5, 'ddd', 'Deploying', 'Deployed'),
      status(6, 'bbb', 'Deploying', 'Deployed'),
    );
    await expect(watchMaasEvents(f.client, repo, 2)).resolves.toEqual({ events: 4, cursor: 6, deployed: ['bbb', 'ddd'] });
    expect(await repo.getEventCursor()).toBe(6);
    await expect(watchMaasEvents(f.client, repo)).resolves.toEqual({ events: 0, cursor: 6, deployed: [] });
  });

  it('resumes from the cursor Redis keeps, whichever process polled before', async () => {
    log.push(status(7, 'eee', 'Deploying', 'Deployed'));
    const other = new RedisFleetRepository(redis, prefix);
    await expect(watchMaasEvents(f.client, other)).resolves.toEqual({ events: 1, cursor: 7, deployed: ['eee'] });
  });
});
