import { MaasClient, MaasEventCursor, RawEvent, deployedTransitions } from './index';
import { ScriptedMaas, SeenRequest, TEST_API_KEY } from './testing/scripted-maas.server';

/** A MAAS-like event log (events.py query): newest first, `after` exclusive, `limit` caps the page. */
class EventLog {
  events: RawEvent[] = [];
  add(n: number, make: (id: number) => Partial<RawEvent> = () => ({})): void {
    const start = this.events.length + 1;
    for (let id = start; id < start + n; id++) {
      this.events.push({
        id,
        node: `m${id % 3}`,
        hostname: `host-${id % 3}`,
        username: 'ioplane',
        level: 'DEBUG',
        created: 'Fri, 07 Dec. 2018 20:11:08',
        type: 'Node changed status',
        description: "From 'Allocated' to 'Deploying'",
        ...make(id),
      });
    }
  }
  answer(req: SeenRequest) {
    if (req.path !== 'events/' || req.query.get('op') !== 'query') return { status: 404, text: 'not found' };
    const limit = Number(req.query.get('limit') ?? 100);
    const desc = (a: RawEvent, b: RawEvent) => b.id - a.id;
    // as MAAS does: with `after`, the OLDEST `limit` events past it, then reversed
    const newestFirst = req.query.has('after')
      ? this.events
          .filter((e) => e.id > Number(req.query.get('after')))
          .slice(0, limit)
          .sort(desc)
      : [...this.events].sort(desc).slice(0, limit);
    return { json: { count: newestFirst.length, events: newestFirst, next_uri: 'x', prev_uri: 'y' } };
  }
}

describe('MaasEventCursor', () => {
  const maas = new ScriptedMaas();
  let client: MaasClient;
  let log: EventLog;

  beforeAll(async () => {
    const url = await maas.start();
    client = new MaasClient({ url, apiKey: TEST_API_KEY, retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 5 } });
  });
  beforeEach(() => {
    log = new EventLog();
    maas.fallback = (req) => log.answer(req);
  });
  afterEach(() => maas.reset());
  afterAll(async () => {
    client.close();
    await maas.close();
  });

  it('learns the newest id, then returns only newer events in ascending order', async () => {
    log.add(7);
    const cursor = new MaasEventCursor(client);
    await expect(cursor.init()).resolves.toBe(7);
    expect(maas.requests[0].rawQuery).toBe('op=query&limit=1&level=DEBUG');

    log.add(4);
    const events = await cursor.poll();
    expect(events.map((e) => e.id)).toEqual([8, 9, 10, 11]);
    expect(cursor.position).toBe(11);
    expect(maas.requests[1].rawQuery).toBe('op=query&after=7&limit=1000&level=DEBUG');

    await expect(cursor.poll()).resolves.toEqual([]);
    expect(cursor.position).toBe(11);
  });

  it('follows full pages at once until a short page', async () => {
    log.add(3);
    const cursor = new MaasEventCursor(client, { startAfter: 3, pageSize: 2 });
    await expect(cursor.init()).resolves.toBe(3);
    expect(maas.requests).toHaveLength(0);

    log.add(5); // ids 4..8
    const events = await cursor.poll();
    expect(events.map((e) => e.id)).toEqual([4, 5, 6, 7, 8]);
    expect(cursor.position).toBe(8);
    // pages: [4,5] full, [6,7] full, [8] short
    expect(maas.requests.map((r) => r.query.get('after'))).toEqual(['3', '5', '7']);
  });

  it('starts from an empty log and initialises lazily on poll', async () => {
    const cursor = new MaasEventCursor(client);
    await expect(cursor.poll()).resolves.toEqual([]);
    expect(cursor.position).toBe(0);
    log.add(2);
    expect((await cursor.poll()).map((e) => e.id)).toEqual([1, 2]);
  });

  it('serialises overlapping polls so no event is handed out twice', async () => {
    const cursor = new MaasEventCursor(client, { startAfter: 0 });
    log.add(3);
    const [a, b] = await Promise.all([cursor.poll(), cursor.poll()]);
    expect([...a, ...b].map((e) => e.id)).toEqual([1, 2, 3]);
  });

  it('keeps its position when a poll fails', async () => {
    const cursor = new MaasEventCursor(client, { startAfter: 5 });
    maas.fallback = () => ({ status: 503, text: 'down' });
    await expect(cursor.poll()).rejects.toThrow(/unavailable/i);
    expect(cursor.position).toBe(5);
  });
});

describe('deployedTransitions', () => {
  it('picks Deploying -> Deployed status changes only', () => {
    const ev = (id: number, type: string, description: string, node: string | null = 'abc'): RawEvent => ({
      id,
      node,
      hostname: 'h1',
      level: 'DEBUG',
      type,
      description,
    });
    const out = deployedTransitions([
      ev(1, 'Node changed status', "From 'Allocated' to 'Deploying'"),
      ev(2, 'Node changed status', "From 'Deploying' to 'Deployed'"),
      ev(3, 'Deployed', 'Deployed'), // INFO milestone, not the status change
      ev(4, 'Node changed status', "From 'Deploying' to 'Failed deployment'"),
      ev(5, 'Node changed status', "From 'Deployed' to 'Releasing'"),
      ev(6, 'Node changed status', "From 'Deploying' to 'Deployed'", null),
      ev(7, 'Node changed status', "From 'Deploying' to 'Deployed'", 'def'),
    ]);
    expect(out).toEqual([
      { systemId: 'abc', hostname: 'h1', eventId: 2 },
      { systemId: 'def', hostname: 'h1', eventId: 7 },
    ]);
  });
});
