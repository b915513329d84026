import type { MaasClient } from './maas.client';
import type { RawEvent } from './maas.schemas';

const STATUS_CHANGED = 'Node changed status';
const TO_DEPLOYED = /^From 'Deploying' to 'Deployed'$/;
const MAX_PAGE = 1000;

export interface DeployedTransition {
  systemId: string;
  hostname: string;
  eventId: number;
}

/** Machines that reached Deployed, from the DEBUG `Node changed status` events. */
export function deployedTransitions(events: RawEvent[]): DeployedTransition[] {
  const out: DeployedTransition[] = [];
  for (const ev of events) {
    if (ev.type !== STATUS_CHANGED || !ev.node) continue;
    if (!TO_DEPLOYED.test((ev.description ?? '').trim())) continue;
    out.push({ systemId: ev.node, hostname: ev.hostname ?? '', eventId: ev.id });
  }
  return out;
}

export interface MaasEventCursorOptions {
  /** Resume after this event id; without it, init() starts at the newest event. */
  startAfter?: number;
  /** Events per request, at most 1000 (MAAS's cap). */
  pageSize?: number;
}

/**
 * Follows the MAAS event log. MAAS returns events newest first even with `after`,
 * so each page is re-sorted by id, and a full page means more are waiting.
 * Events can be pruned by MAAS; callers should still do a periodic full read.
 */
export class MaasEventCursor {
  private cursor: number;
  private initialised: boolean;
  private readonly pageSize: number;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: MaasClient,
    opts: MaasEventCursorOptions = {},
  ) {
    this.cursor = opts.startAfter ?? 0;
    this.initialised = opts.startAfter !== undefined;
    this.pageSize = Math.min(MAX_PAGE, Math.max(1, Math.floor(opts.pageSize ?? MAX_PAGE)));
  }

  get position(): number {
    return this.cursor;
  }

  /** Learns the newest event id (unless startAfter was given) and returns the position. */
  init(): Promise<number> {
    return this.serialise(() => this.doInit());
  }

  /** All events after the position, ascending by id; advances the position past them. */
  poll(): Promise<RawEvent[]> {
    return this.serialise(async () => {
      if (!this.initialised) await this.doInit();
      const collected: RawEvent[] = [];
      for (;;) {
        const { events } = await this.client.queryEvents({ after: this.cursor, limit: this.pageSize, level: 'DEBUG' });
        const fresh = events.filter((e) => e.id > this.cursor).sort((a, b) => a.id - b.id);
        if (fresh.length === 0) break;
        collected.push(...fresh);
        this.cursor = fresh[fresh.length - 1].id;
        if (events.length < this.pageSize) break;
      }
      return collected;
    });
  }

  private async doInit(): Promise<number> {
    if (!this.initialised) {
      const { events } = await this.client.queryEvents({ limit: 1, level: 'DEBUG' });
      this.cursor = events.reduce((max, e) => Math.max(max, e.id), 0);
      this.initialised = true;
    }
    return this.cursor;
  }

  // two overlapping polls would read the same page twice and hand out duplicates
  private serialise<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
