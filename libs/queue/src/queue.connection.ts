import Redis, { Cluster, RedisOptions } from 'ioredis';
import { clusterOptions, parseRedisEndpoint, redisOptions } from '@ioplane/runtime';

/**
 * Reconnect for as long as an outage lasts, backing off to one attempt every 2 s: a worker or API
 * that gave up on Redis would need a person to restart it. Commands in flight still fail (after
 * maxRetriesPerRequest reconnections) and every caller handles that.
 */
export function redisRetryStrategy(times: number): number {
  return Math.min(100 * times, 2000);
}

/** Workers block on Redis: BullMQ requires maxRetriesPerRequest null so a blocking call is never cut short. */
const WORKER: RedisOptions = { maxRetriesPerRequest: null, retryStrategy: redisRetryStrategy };
/** Producers fail fast instead of queueing commands while Redis is down, so an API call errors rather than hangs. */
const PRODUCER: RedisOptions = { enableOfflineQueue: false, maxRetriesPerRequest: 3, retryStrategy: redisRetryStrategy };

export type Role = 'worker' | 'producer';

/** Options for a single server or a Sentinel-managed primary; a cluster needs a client (see RedisConnections). */
export function workerConnection(url: string): RedisOptions {
  return { ...nodeOptions(url), ...WORKER };
}

export function producerConnection(url: string): RedisOptions {
  return { ...nodeOptions(url), ...PRODUCER };
}

function nodeOptions(url: string): RedisOptions {
  const e = parseRedisEndpoint(url);
  if (e.kind === 'cluster') throw new Error('a Redis Cluster needs a client: use RedisConnections');
  return redisOptions(e);
}

/**
 * The Redis clients of one process, whatever the deployment: BullMQ takes options for a single
 * server or Sentinel (and opens and closes its own connections), but only a client for a
 * cluster, which it then shares and never closes: those are kept here and closed by close().
 */
export class RedisConnections {
  private readonly endpoint;
  private readonly owned: Array<Redis | Cluster> = [];
  private readonly shared = new Map<Role, Cluster>();

  constructor(readonly url: string) {
    this.endpoint = parseRedisEndpoint(url);
  }

  get isCluster(): boolean {
    return this.endpoint.kind === 'cluster';
  }

  /** What BullMQ queues and workers of this role connect with. */
  queue(role: Role): RedisOptions | Cluster {
    const e = this.endpoint;
    if (e.kind !== 'cluster') return { ...redisOptions(e), ...(role === 'worker' ? WORKER : PRODUCER) };
    let c = this.shared.get(role);
    if (!c) {
      c = this.cluster(role === 'worker' ? WORKER : PRODUCER);
      this.shared.set(role, c);
    }
    return c;
  }

  /**
   * A client of ioplane's own (state store, harness). A Cluster client answers the same commands
   * for keys of one slot, which is why every state key carries the prefix's hash tag; it is typed
   * as a Redis client for the repositories, which only send single-slot commands and scripts.
   */
  client(role: Role, extra: RedisOptions = {}): Redis {
    const e = this.endpoint;
    if (e.kind === 'cluster') return this.cluster({ ...(role === 'worker' ? WORKER : PRODUCER), ...extra }) as unknown as Redis;
    const r = new Redis({ ...redisOptions(e), ...(role === 'worker' ? WORKER : PRODUCER), ...extra });
    this.owned.push(r);
    return r;
  }

  async close(): Promise<void> {
    const all = this.owned.splice(0);
    this.shared.clear();
    await Promise.all(all.map((c) => c.quit().catch(() => c.disconnect())));
  }

  private cluster(node: RedisOptions): Cluster {
    const e = this.endpoint;
    if (e.kind !== 'cluster') throw new Error('not a cluster endpoint');
    const { nodes, options } = clusterOptions(e, node);
    const c = new Cluster(nodes, options);
    this.owned.push(c);
    return c;
  }
}
