/** MAAS event log: ids only grow, queries answer newest first, exactly like maasserver/api/events.py. */
export const LEVELS = { AUDIT: 0, DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 } as const;
export type LevelName = keyof typeof LEVELS;

export interface SimEvent {
  id: number;
  systemId: string;
  hostname: string;
  zone: string;
  pool: string;
  username: string;
  level: LevelName;
  created: Date;
  type: string;
  description: string;
}

export interface EventQuery {
  level?: string;
  after?: number;
  before?: number;
  limit?: number;
  owner?: string;
  /** Already-resolved set of machines the filters (id, hostname, zone ...) select. */
  systemIds?: Set<string>;
}

export interface EventPage {
  count: number;
  events: Array<{
    id: number;
    node: string;
    hostname: string;
    username: string;
    level: string;
    created: string;
    type: string;
    description: string;
  }>;
  next_uri: string;
  prev_uri: string | null;
}

export class EventQueryError extends Error {}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number) => String(n).padStart(2, '0');

/** strftime("%a, %d %b. %Y %H:%M:%S") in UTC: "Fri, 07 Dec. 2018 20:11:08". */
export function formatEventDate(d: Date): string {
  return `${DAYS[d.getUTCDay()]}, ${pad(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]}. ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

export const MAX_EVENT_LIMIT = 1000;
const DEFAULT_LIMIT = 100;
/** MAAS prunes old events; bounding the log keeps a long-running simulator's memory flat. */
const MAX_RETAINED = 50_000;

export class EventLog {
  private events: SimEvent[] = [];
  private nextId = 1;

  constructor(private readonly now: () => Date) {}

  add(e: Omit<SimEvent, 'id' | 'created'> & { created?: Date }): SimEvent {
    const event: SimEvent = { ...e, id: this.nextId++, created: e.created ?? this.now() };
    this.events.push(event);
    if (this.events.length > MAX_RETAINED) this.events.splice(0, this.events.length - MAX_RETAINED);
    return event;
  }

  all(): readonly SimEvent[] {
    return this.events;
  }

  get lastId(): number {
    return this.nextId - 1;
  }

  query(q: EventQuery, params: Array<[string, string]>, basePath: string): EventPage {
    const levelName = (q.level ?? 'INFO').toUpperCase();
    if (!(levelName in LEVELS)) throw new EventQueryError(`Unrecognised log level: ${q.level}`);
    let limit = q.limit ?? DEFAULT_LIMIT;
    if (limit > MAX_EVENT_LIMIT) throw new EventQueryError(`Requested number of events ${limit} is greater than limit: ${MAX_EVENT_LIMIT}`);
    if (limit < 1) limit = 1;
    if (q.after !== undefined && q.before !== undefined) {
      throw new EventQueryError('There is undetermined behaviour when both `after` and `before` are specified.');
    }
    const min = LEVELS[levelName as LevelName];
    // AUDIT selects exactly the audit trail; any other level means "this and above", which excludes AUDIT (0).
    const levelOk = (e: SimEvent) => (min === LEVELS.AUDIT ? e.level === 'AUDIT' : LEVELS[e.level] >= min);
    const match = (e: SimEvent) =>
      levelOk(e) && (!q.systemIds || q.systemIds.has(e.systemId)) && (q.owner === undefined || e.username === q.owner);

    let picked: SimEvent[] = [];
    if (q.after === undefined) {
      for (let i = this.events.length - 1; i >= 0 && picked.length < limit; i--) {
        const e = this.events[i];
        if ((q.before === undefined || e.id < q.before) && match(e)) picked.push(e);
      }
    } else {
      // Oldest `limit` events after the cursor, then reversed: a poller never skips a gap.
      for (const e of this.events) {
        if (picked.length >= limit) break;
        if (e.id > q.after && match(e)) picked.push(e);
      }
      picked = picked.reverse();
    }

    const keep = params.filter(([k]) => KEEP_PARAMS.has(k));
    const uri = (extra: Array<[string, string]>) => `${basePath}?${new URLSearchParams([...keep, ...extra]).toString()}`;
    let next_uri: string;
    let prev_uri: string | null;
    if (picked.length === 0) {
      // MAAS drops `after` here (it is not in all_params): a client that follows next_uri blindly restarts at the newest page.
      next_uri = q.before === undefined ? uri([]) : uri([['after', String(q.before - 1)]]);
      prev_uri = q.after === undefined ? null : uri([['before', String(q.after + 1)]]);
    } else {
      next_uri = uri([['after', String(picked[0].id)]]);
      prev_uri = uri([['before', String(picked[picked.length - 1].id)]]);
    }
    return {
      count: picked.length,
      events: picked.map((e) => ({
        id: e.id,
        node: e.systemId,
        hostname: e.hostname,
        username: e.username,
        level: e.level,
        created: formatEventDate(e.created),
        type: e.type,
        description: e.description,
      })),
      next_uri,
      prev_uri,
    };
  }
}

/** The parameters MAAS carries over into next_uri/prev_uri (its `all_params`). */
const KEEP_PARAMS = new Set(['agent_name', 'domain', 'hostname', 'id', 'level', 'limit', 'mac_address', 'op', 'zone', 'owner']);
