import { EventLog, formatEventDate } from './maas-sim.events';

describe('event log', () => {
  it('formats dates the way MAAS does', () => {
    expect(formatEventDate(new Date(Date.UTC(2018, 11, 7, 20, 11, 8)))).toBe('Fri, 07 Dec. 2018 20:11:08');
  });

  const log = new EventLog(() => new Date(0));
  const add = (level: 'DEBUG' | 'INFO' | 'AUDIT', systemId = 'aaaaaa') =>
    log.add({ systemId, hostname: 'h', zone: 'z', pool: 'p', username: 'admin', level, type: 't', description: '' });
  for (let i = 0; i < 10; i++) add(i % 3 === 0 ? 'INFO' : i % 3 === 1 ? 'DEBUG' : 'AUDIT', i < 5 ? 'aaaaaa' : 'bbbbbb');

  it('defaults to INFO and newest first', () => {
    const page = log.query({}, [], '/e/');
    expect(page.events.map((e) => e.id)).toEqual([10, 7, 4, 1]);
    expect(page.prev_uri).toBe('/e/?before=1');
  });

  it('after a cursor returns the oldest page, reversed', () => {
    const page = log.query(
      { level: 'DEBUG', after: 1, limit: 2 },
      [
        ['op', 'query'],
        ['level', 'DEBUG'],
        ['after', '1'],
        ['limit', '2'],
      ],
      '/e/',
    );
    expect(page.events.map((e) => e.id)).toEqual([4, 2]);
    expect(page.next_uri).toBe('/e/?op=query&level=DEBUG&limit=2&after=4');
  });

  it('filters by machine set and supports before', () => {
    const page = log.query({ level: 'DEBUG', before: 9, systemIds: new Set(['bbbbbb']) }, [], '/e/');
    expect(page.events.map((e) => e.id)).toEqual([8, 7]);
  });

  it('AUDIT selects only the audit trail', () => {
    expect(log.query({ level: 'AUDIT' }, [], '/e/').events.map((e) => e.id)).toEqual([9, 6, 3]);
  });
});
