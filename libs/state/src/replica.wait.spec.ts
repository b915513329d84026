import Redis from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedRedis, startEmbeddedRedis } from '../../runtime/src/redis.embedded';
import { RolloutRepository } from './rollout.repository';
import { StateKeys } from './state.keys';

/** A primary and its replica of the test's own, so the replica can be stalled (SIGSTOP). */
describe('ReplicaWait: writes that must outlive a failover', () => {
  const dirs: string[] = [];
  let primary: EmbeddedRedis;
  let replica: EmbeddedRedis;
  let client: Redis;
  let replicaClient: Redis;
  const prefix = 'replica-wait';
  const record = { systemId: 'm1', generation: 0, state: 'pending' };

  beforeAll(async () => {
    const dir = () => (dirs.push(mkdtempSync(join(tmpdir(), 'ioplane-replica-'))), dirs[dirs.length - 1]);
    primary = await startEmbeddedRedis({ dataDir: dir() });
    replica = await startEmbeddedRedis({
      dataDir: dir(),
      password: primary.password,
      config: [`replicaof 127.0.0.1 ${primary.port}`, `masterauth ${primary.password}`],
    });
    client = new Redis(primary.url);
    replicaClient = new Redis(replica.url);
    for (let i = 0; i < 200 && !/master_link_status:up/.test(await replicaClient.info('replication')); i++)
      await new Promise((r) => setTimeout(r, 50));
  }, 30_000);

  afterAll(async () => {
    try {
      process.kill(replica.pid, 'SIGCONT');
    } catch {
      // Already gone.
    }
    client?.disconnect();
    replicaClient?.disconnect();
    await replica?.stop();
    await primary?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('a machine record is on the replica when saveMachine returns, and nothing is reported', async () => {
    const unreplicated: string[] = [];
    const repo = new RolloutRepository(client, prefix, { onUnreplicated: (what) => unreplicated.push(what) });
    await repo.initMachines('p1', [record]);
    const saved = await repo.saveMachine('p1', record);
    expect(saved?.generation).toBe(1);
    expect(JSON.parse((await replicaClient.hget(new StateKeys(prefix).rolloutMachines('p1'), 'm1'))!).generation).toBe(1);
    expect(unreplicated).toEqual([]);
  });

  it('reports a write no replica confirmed (the replica stalled), instead of acknowledging it silently', async () => {
    const unreplicated: string[] = [];
    const repo = new RolloutRepository(client, prefix, { onUnreplicated: (what) => unreplicated.push(what) });
    const current = (await repo.machine<typeof record>('p1', 'm1'))!;
    process.kill(replica.pid, 'SIGSTOP');
    try {
      expect(await repo.saveMachine('p1', current)).not.toBeNull();
    } finally {
      process.kill(replica.pid, 'SIGCONT');
    }
    expect(unreplicated).toEqual(['rollout p1 machine m1']);
  }, 30_000);

  it('costs nothing per write on a server without replicas', async () => {
    const lone = await startEmbeddedRedis({ dataDir: (dirs.push(mkdtempSync(join(tmpdir(), 'ioplane-replica-'))), dirs[dirs.length - 1]) });
    const c = new Redis(lone.url);
    try {
      const seen: string[] = [];
      // monitor() opens a connection of its own; a duplicate() here was a third client nobody closed,
      // reconnecting forever to the server stopped below, so jest never exited after this file.
      const monitor = await c.monitor();
      monitor.on('monitor', (_t: string, args: string[]) => seen.push(String(args[0]).toUpperCase()));
      const repo = new RolloutRepository(c, prefix);
      await repo.initMachines('p2', [record]);
      await repo.saveMachine('p2', record);
      await c.ping();
      for (let i = 0; i < 100 && !seen.includes('PING'); i++) await new Promise((r) => setTimeout(r, 20));
      // The monitor saw the writes (so it would have seen a WAIT), and there was none.
      expect(seen).toEqual(expect.arrayContaining(['EVAL', 'PING']));
      expect(seen).not.toContain('WAIT');
      monitor.disconnect();
    } finally {
      c.disconnect();
      await lone.stop();
    }
  });
});
