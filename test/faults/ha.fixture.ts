import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { EmbeddedRedis, freePort, startEmbeddedRedis } from '../../libs/runtime/src/redis.embedded';
import { sleep } from './fault.fixture';

/**
 * A Sentinel deployment of the test's own on loopback: a primary (AOF on), one replica and three
 * `redis-sentinel` processes (Debian's package) with quorum 2, tuned to notice a dead primary
 * within a second. The test kills the primary; the sentinels promote the replica; a restarted
 * old primary comes back as a replica of the new one.
 */
export class SentinelSet {
  readonly name = 'ioplane-ha';
  private readonly dir = mkdtempSync(join(tmpdir(), 'ioplane-sentinel-'));
  private readonly servers = new Map<number, EmbeddedRedis>();
  private readonly sentinels: ChildProcess[] = [];
  sentinelPorts: number[] = [];
  password = '';
  /** The primary's port when the set started, and the replica's. */
  ports: { primary: number; replica: number } = { primary: 0, replica: 0 };

  async start(): Promise<void> {
    const primary = await this.server(undefined, []);
    this.password = primary.password;
    this.ports.primary = primary.port;
    const replica = await this.server(undefined, [`replicaof 127.0.0.1 ${primary.port}`]);
    this.ports.replica = replica.port;
    await until('the replica to sync', async () => /master_link_status:up/.test(await info(replica, 'replication')));
    for (let i = 0; i < 3; i++) {
      const port = await freePort();
      const conf = join(this.dir, `sentinel-${port}.conf`);
      // Sentinel rewrites its file; it holds the data password, so only this user reads it.
      writeFileSync(
        conf,
        [
          `port ${port}`,
          'bind 127.0.0.1',
          `dir ${this.dir}`,
          `sentinel monitor ${this.name} 127.0.0.1 ${primary.port} 2`,
          `sentinel auth-pass ${this.name} ${this.password}`,
          `sentinel down-after-milliseconds ${this.name} 1000`,
          `sentinel failover-timeout ${this.name} 10000`,
          `sentinel parallel-syncs ${this.name} 1`,
        ].join('\n') + '\n',
        { mode: 0o600 },
      );
      const child = spawn('redis-sentinel', [conf], { stdio: 'ignore', detached: true });
      this.sentinels.push(child);
      this.sentinelPorts.push(port);
    }
    // Every sentinel knows the replica and the other sentinels before the test may fail anything over.
    await until(
      'three sentinels that see each other and the replica',
      async () => {
        for (const port of this.sentinelPorts) {
          const s = sentinel(port);
          try {
            const m = (await s.call('SENTINEL', 'MASTER', this.name)) as string[];
            const f = (k: string) => Number(m[m.indexOf(k) + 1]);
            if (f('num-other-sentinels') < 2 || f('num-slaves') < 1) return false;
          } catch {
            return false;
          } finally {
            s.disconnect();
          }
        }
        return true;
      },
      60_000,
    );
  }

  /** What ioplane is given: the sentinels and the master name, never a server's address. */
  get url(): string {
    return `redis+sentinel://:${this.password}@${this.sentinelPorts.map((p) => `127.0.0.1:${p}`).join(',')}/${this.name}`;
  }

  /** The port the sentinels name as primary now. */
  async primaryPort(): Promise<number> {
    const s = sentinel(this.sentinelPorts[0]);
    try {
      const [, port] = (await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.name)) as [string, string];
      return Number(port);
    } finally {
      s.disconnect();
    }
  }

  /** SIGKILL the current primary (a crash: only its AOF survives). */
  async killPrimary(): Promise<number> {
    const port = await this.primaryPort();
    const r = this.servers.get(port)!;
    process.kill(r.pid, 'SIGKILL');
    await r.stop();
    return port;
  }

  async waitPromoted(from: number, ms = 60_000): Promise<number> {
    await until(`the sentinels to promote a replica in place of :${from}`, async () => (await this.primaryPort()) !== from, ms);
    return this.primaryPort();
  }

  /** Brings a killed server back on its port and data: the sentinels make it a replica of the new primary. */
  async restart(port: number): Promise<void> {
    await this.server(port, []);
  }

  async stop(): Promise<void> {
    for (const c of this.sentinels) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const r of this.servers.values()) {
      await r.stop().catch(() => undefined);
      try {
        process.kill(r.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  private async server(port: number | undefined, config: string[]): Promise<EmbeddedRedis> {
    const dataDir = join(this.dir, `redis-${port ?? 'new'}-${this.servers.size}`);
    const r = await startEmbeddedRedis({
      dataDir: port ? this.dataDirs.get(port)! : dataDir,
      port,
      password: this.password || undefined,
      config: [...config, ...(this.password ? [`masterauth ${this.password}`] : [])],
    });
    if (!port) this.dataDirs.set(r.port, dataDir);
    this.servers.set(r.port, r);
    return r;
  }

  private readonly dataDirs = new Map<number, string>();
}

function sentinel(port: number): Redis {
  return new Redis({ host: '127.0.0.1', port, lazyConnect: false, maxRetriesPerRequest: 1, retryStrategy: () => null });
}

async function info(r: EmbeddedRedis, section: string): Promise<string> {
  const c = new Redis(r.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    return await c.info(section);
  } finally {
    c.disconnect();
  }
}

async function until(what: string, probe: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await probe().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

/**
 * A three-master Redis Cluster of the test's own on loopback (no replicas: the point is slots,
 * MOVED and CROSSSLOT, not failover, which SentinelSet covers), created with `redis-cli --cluster`.
 */
export class ClusterSet {
  private readonly dir = mkdtempSync(join(tmpdir(), 'ioplane-cluster-'));
  private readonly nodes: EmbeddedRedis[] = [];
  password = '';

  async start(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const dataDir = join(this.dir, `node-${i}`);
      const r = await startEmbeddedRedis({
        dataDir,
        password: this.password || undefined,
        config: [
          'cluster-enabled yes',
          'cluster-config-file nodes.conf',
          'cluster-node-timeout 2000',
          ...(this.password ? [`masterauth ${this.password}`] : []),
        ],
      });
      this.password ||= r.password;
      this.nodes.push(r);
    }
    // The first node was started before the password was known to the others: give it masterauth too.
    const first = new Redis(this.nodes[0].url, { maxRetriesPerRequest: 1 });
    await first.config('SET', 'masterauth', this.password);
    first.disconnect();
    const create = spawn('redis-cli', ['--cluster', 'create', ...this.nodes.map((n) => `127.0.0.1:${n.port}`), '--cluster-yes'], {
      // The password reaches redis-cli through its environment, not its command line (ps shows that).
      env: { ...process.env, REDISCLI_AUTH: this.password },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    create.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    create.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((r) => create.once('exit', r));
    if (code !== 0) throw new Error(`redis-cli --cluster create failed (${code}): ${out}`);
    await until(
      'every node to see the cluster ok',
      async () => {
        for (const n of this.nodes) if (!/cluster_state:ok/.test(await clusterInfo(n))) return false;
        return true;
      },
      60_000,
    );
  }

  get url(): string {
    return `redis+cluster://:${this.password}@${this.nodes.map((n) => `127.0.0.1:${n.port}`).join(',')}`;
  }

  /** A plain client on one node: asks where a key lives. */
  async keySlot(key: string): Promise<number> {
    const c = new Redis(this.nodes[0].url, { maxRetriesPerRequest: 1 });
    try {
      return Number(await c.call('CLUSTER', 'KEYSLOT', key));
    } finally {
      c.disconnect();
    }
  }

  async stop(): Promise<void> {
    for (const n of this.nodes) {
      await n.stop().catch(() => undefined);
      try {
        process.kill(n.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function clusterInfo(r: EmbeddedRedis): Promise<string> {
  const c = new Redis(r.url, { maxRetriesPerRequest: 1, retryStrategy: () => null });
  try {
    return String(await c.call('CLUSTER', 'INFO'));
  } finally {
    c.disconnect();
  }
}
