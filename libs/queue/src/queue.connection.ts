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

/** Workers block on Redis: BullMQ requires maxRetriesPerRequest null so a blocking call is never cut short. */
export function workerConnection(url: string): RedisOptions {
  return { ...fromUrl(url), maxRetriesPerRequest: null };
}

/** Producers fail fast instead of queueing commands while Redis is down, so an API call errors rather than hangs. */
export function producerConnection(url: string): RedisOptions {
  return { ...fromUrl(url), enableOfflineQueue: false, maxRetriesPerRequest: 3 };
}
