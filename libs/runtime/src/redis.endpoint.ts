import type { ClusterOptions, RedisOptions } from 'ioredis';

/**
 * Where the system of record lives. One URL names all three shapes, so every process (API,
 * worker, CLI, tests) passes a single string around:
 * - `redis://[user][:password]@host:port/db` (`rediss://` for TLS): one server;
 * - `redis+sentinel://[user][:password]@s1:26379,s2:26379/<master name>[/db][?sentinelPassword=…]`:
 *   the primary that Sentinel names, followed across failovers;
 * - `redis+cluster://[user][:password]@n1:6379,n2:6379`: a Redis Cluster (seed nodes).
 * Users and passwords arrive percent-encoded, as in any URL.
 */
export type RedisEndpoint =
  | { kind: 'single'; host: string; port: number; username?: string; password?: string; db?: number; tls: boolean }
  | { kind: 'sentinel'; sentinels: HostPort[]; name: string; username?: string; password?: string; sentinelPassword?: string; db?: number }
  | { kind: 'cluster'; nodes: HostPort[]; username?: string; password?: string };

export interface HostPort {
  host: string;
  port: number;
}

/** A REDIS_URL that cannot be used; `field` is the part of it that is wrong (never the password). */
export class RedisEndpointError extends Error {
  readonly code = 'invalid_redis_endpoint';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

const SCHEME = /^(rediss?|redis\+sentinel|redis\+cluster):\/\/(?:([^@/]*)@)?([^/?#]*)(\/[^?#]*)?(\?[^#]*)?$/;

export function parseRedisEndpoint(url: string): RedisEndpoint {
  const m = SCHEME.exec(url);
  if (!m)
    throw new RedisEndpointError('REDIS_URL', 'must be redis://, rediss://, redis+sentinel:// or redis+cluster:// followed by host:port');
  const [, scheme, auth, hosts, path = '', query = ''] = m;
  const { username, password } = credentials(auth);
  const addrs = hostList(hosts, scheme === 'redis+sentinel' ? 26379 : 6379);
  const segments = path.split('/').filter(Boolean);
  if (scheme === 'redis' || scheme === 'rediss') {
    if (addrs.length !== 1)
      throw new RedisEndpointError('REDIS_URL', `${scheme}:// takes one host:port; use redis+sentinel:// or redis+cluster:// for several`);
    return { kind: 'single', ...addrs[0], username, password, db: dbOf(segments[0]), tls: scheme === 'rediss' };
  }
  if (scheme === 'redis+sentinel') {
    const name = segments[0] ? decodeURIComponent(segments[0]) : '';
    if (!name)
      throw new RedisEndpointError(
        'REDIS_URL',
        'redis+sentinel:// needs the master name as its path: redis+sentinel://s1:26379,s2:26379/mymaster',
      );
    const sentinelPassword = new URLSearchParams(query.slice(1)).get('sentinelPassword') ?? undefined;
    return { kind: 'sentinel', sentinels: addrs, name, username, password, sentinelPassword, db: dbOf(segments[1]) };
  }
  if (segments.length) throw new RedisEndpointError('REDIS_URL', 'redis+cluster:// has no database path: a cluster has only database 0');
  return { kind: 'cluster', nodes: addrs, username, password };
}

/**
 * REDIS_URL, or the Sentinel / Cluster variables an operator may set instead (they win over a
 * plain REDIS_URL, whose password they reuse for the data nodes).
 */
export function redisUrlFrom(env: {
  REDIS_URL?: string;
  REDIS_SENTINELS?: string;
  REDIS_SENTINEL_NAME?: string;
  REDIS_SENTINEL_PASSWORD?: string;
  REDIS_CLUSTER_NODES?: string;
  REDIS_PASSWORD?: string;
}): string | undefined {
  const password = env.REDIS_PASSWORD ?? (env.REDIS_URL ? parseRedisEndpoint(env.REDIS_URL).password : undefined);
  const auth = password ? `:${encodeURIComponent(password)}@` : '';
  if (env.REDIS_SENTINELS) {
    if (env.REDIS_CLUSTER_NODES)
      throw new RedisEndpointError('REDIS_CLUSTER_NODES', 'set REDIS_SENTINELS or REDIS_CLUSTER_NODES, not both');
    if (!env.REDIS_SENTINEL_NAME)
      throw new RedisEndpointError('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS: the master name the sentinels monitor');
    hostList(env.REDIS_SENTINELS, 26379, 'REDIS_SENTINELS');
    const q = env.REDIS_SENTINEL_PASSWORD ? `?sentinelPassword=${encodeURIComponent(env.REDIS_SENTINEL_PASSWORD)}` : '';
    return `redis+sentinel://${auth}${env.REDIS_SENTINELS}/${encodeURIComponent(env.REDIS_SENTINEL_NAME)}${q}`;
  }
  if (env.REDIS_CLUSTER_NODES) {
    hostList(env.REDIS_CLUSTER_NODES, 6379, 'REDIS_CLUSTER_NODES');
    return `redis+cluster://${auth}${env.REDIS_CLUSTER_NODES}`;
  }
  return env.REDIS_URL;
}

/** The password(s) a URL carries, for the log redactor. */
export function redisSecrets(url: string): string[] {
  const e = parseRedisEndpoint(url);
  return [e.password, e.kind === 'sentinel' ? e.sentinelPassword : undefined].filter((x): x is string => !!x);
}

/** The URL with every secret masked: what a log line or an error may show. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@').replace(/sentinelPassword=[^&#]*/, 'sentinelPassword=***');
}

/**
 * Connection options for one ioredis client (single server or Sentinel). A connection that lands
 * on a read-only replica (the old primary after a failover, back as a replica) reconnects; with
 * Sentinel it asks again who the primary is and sends the command there.
 */
export function redisOptions(e: Exclude<RedisEndpoint, { kind: 'cluster' }>): RedisOptions {
  if (e.kind === 'single') {
    // One address: a reconnect lands on the same read-only server, so the write fails (503
    // store_unavailable) instead of being sent again forever; the next command gets a fresh connection.
    const reconnectOnError = (err: Error) => (err.message.startsWith('READONLY') ? 1 : false);
    return {
      host: e.host,
      port: e.port,
      username: e.username,
      password: e.password,
      db: e.db,
      tls: e.tls ? {} : undefined,
      reconnectOnError,
    };
  }
  // Sentinel names the primary again on reconnect, so the command is sent again there.
  const reconnectOnError = (err: Error) => (err.message.startsWith('READONLY') ? 2 : false);
  return {
    sentinels: e.sentinels,
    name: e.name,
    username: e.username,
    password: e.password,
    sentinelPassword: e.sentinelPassword,
    db: e.db,
    role: 'master',
    // No +switch-master subscription: its sentinel connections outlived quit() (a process, and
    // jest, never exited). A failover is followed anyway: the dead primary's connection drops (or a
    // write meets READONLY), and the reconnect asks the sentinels for the primary.
    failoverDetector: false,
    reconnectOnError,
  };
}

export function clusterOptions(
  e: Extract<RedisEndpoint, { kind: 'cluster' }>,
  node: RedisOptions,
): { nodes: HostPort[]; options: ClusterOptions } {
  return {
    nodes: e.nodes,
    options: {
      redisOptions: { ...node, username: e.username, password: e.password },
      clusterRetryStrategy: node.retryStrategy ?? undefined,
      enableOfflineQueue: node.enableOfflineQueue,
      // Slots move during a failover: follow MOVED/ASK for a while before giving the error back.
      maxRedirections: 32,
      // Connects on first use (BullMQ connects a client it finds waiting), so an unused role's client costs nothing.
      lazyConnect: true,
      retryDelayOnFailover: 200,
      retryDelayOnClusterDown: 500,
    },
  };
}

function credentials(auth: string | undefined): { username?: string; password?: string } {
  if (!auth) return {};
  const i = auth.indexOf(':');
  const user = i < 0 ? auth : auth.slice(0, i);
  const pass = i < 0 ? '' : auth.slice(i + 1);
  try {
    return { username: user ? decodeURIComponent(user) : undefined, password: pass ? decodeURIComponent(pass) : undefined };
  } catch {
    throw new RedisEndpointError('REDIS_URL', 'its user or password has a bad percent-encoding');
  }
}

function hostList(list: string, defaultPort: number, field = 'REDIS_URL'): HostPort[] {
  const out = list.split(',').map((s) => s.trim());
  if (out.some((s) => !s)) throw new RedisEndpointError(field, 'has an empty host in its list');
  return out.map((s) => {
    const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(s);
    const port = m?.[2] === undefined ? defaultPort : Number(m[2]);
    if (!m || port < 1 || port > 65535) throw new RedisEndpointError(field, `"${s}" is not host[:port]`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
}

function dbOf(segment: string | undefined): number | undefined {
  if (segment === undefined) return undefined;
  if (!/^\d{1,2}$/.test(segment)) throw new RedisEndpointError('REDIS_URL', `database "${segment}" must be a number 0-15`);
  return Number(segment);
}
