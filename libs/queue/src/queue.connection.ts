import type { RedisOptions } from 'ioredis';

/** `redis[s]://[user][:password]@host:port/db`: the user and password arrive percent-encoded. */
function fromUrl(url: string): RedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: Number(u.port || 6379),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined,
    tls: u.protocol === 'rediss:' ? {} : undefined,
  };
}

/**
 * Reconnect for as long as an outage lasts, backing off to one attempt every 2 s: a worker or API
 * that gave up on Redis would need a person to restart it. Commands in flight still fail (after
 * maxRetriesPerRequest reconnections) and every caller handles that.
 */
export function redisRetryStrategy(times: number): number {
  return Math.min(100 * times, 2000);
}

/** Workers block on Redis: BullMQ requires maxRetriesPerRequest null so a blocking call is never cut short. */
export function workerConnection(url: string): RedisOptions {
  return { ...fromUrl(url), maxRetriesPerRequest: null, retryStrategy: redisRetryStrategy };
}

/** Producers fail fast instead of queueing commands while Redis is down, so an API call errors rather than hangs. */
export function producerConnection(url: string): RedisOptions {
  return { ...fromUrl(url), enableOfflineQueue: false, maxRetriesPerRequest: 3, retryStrategy: redisRetryStrategy };
}
