import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { EmbeddedRedis, startEmbeddedRedis } from '@ioplane/runtime';
import { producerConnection, workerConnection } from './queue.connection';
import { closeEvenWhenDown, QueueConnectionsGuard } from './queue.guard';

/** Real BullMQ objects on a Redis of the test's own that it kills, as an outage does. */
describe('queues and workers when Redis goes away', () => {
  let dir: string;
  let redis: EmbeddedRedis;
  const warned: Array<Record<string, unknown>> = [];
  const warn = (f: Record<string, unknown>) => void warned.push(f);

  beforeEach(async () => {
    warned.length = 0;
    dir = mkdtempSync(join(tmpdir(), 'ioplane-guard-'));
    redis = await startEmbeddedRedis({ dataDir: dir });
  });
  afterEach(async () => {
    await redis.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const kill = async () => {
    process.kill(redis.pid, 'SIGKILL');
    await redis.stop().catch(() => undefined);
  };
  const until = async (what: string, ok: () => boolean) => {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 50));
    if (!ok()) throw new Error(`never: ${what}`);
  };

  it('logs a queue connection error through the given log and closes a producer queue that is reconnecting', async () => {
    const q = new Queue('guarded', { connection: producerConnection(redis.url), prefix: '{guard}' });
    new QueueConnectionsGuard([q], warn);
    await q.waitUntilReady();
    await kill();
    await q.getJobCounts().catch(() => undefined);
    await until('the connection to be reconnecting', () => warned.some((w) => w.what === 'queue guarded' && typeof w.err === 'string'));
    // Unguarded, this close rejects with "Stream isn't writeable" and the client reconnects forever.
    await expect(q.close()).resolves.toBeUndefined();
    expect(warned.some((w) => w.status === 'reconnecting')).toBe(true);
    const client = await q.client;
    expect(client.status).not.toBe('ready');
  });

  it('closes a worker whose Redis is gone instead of waiting for a fetch that never returns', async () => {
    const w = new Worker('guarded', async () => 'done', { connection: workerConnection(redis.url), prefix: '{guard}' });
    w.on('error', () => undefined);
    closeEvenWhenDown(w, 'worker guarded', warn);
    await w.waitUntilReady();
    const client = await w.client;
    try {
      await kill();
      // Not a fixed wait: on a busy machine the client may take longer to see its connection go.
      await until('the worker connection to see Redis gone', () => client.status !== 'ready');
      // Unguarded, this close waits for a fetch that never returns (the test times out).
      await w.close();

      expect(warned.some((x) => x.what === 'worker guarded')).toBe(true);
    } finally {
      // Whatever failed above, no worker loop or reconnecting client outlives the test.
      if (w.isRunning()) await w.close(true).catch(() => undefined);
      client.disconnect();
    }
  });
});
