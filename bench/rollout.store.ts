import { rmSync } from 'node:fs';
import Redis from 'ioredis';
import type { Control, RolloutStore } from '@ioplane/rollout';
import { RolloutRepository, StateKeys } from '@ioplane/state';

/**
 * The rollout's durable state for the bench: the real Redis RolloutRepository when a Redis
 * answers (the honest setup: every state write is a network round trip and a Lua CAS), else an
 * in-memory store with the same compare-and-swap semantics, which measures orchestration alone.
 */
export interface BenchStore {
  kind: 'redis' | 'memory';
  where: string;
  store: RolloutStore;
  /** Per-machine work the worker's processor does around runMachine (slot lease, machine lock). */
  around<T>(placementId: string, systemId: string, limit: number, fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Records kept as JSON strings, as Redis keeps them, so a caller never shares an object with the store. */
export class MemoryRolloutStore implements RolloutStore {
  private readonly recs = new Map<string, Map<string, string>>();
  private readonly plans = new Map<string, string>();
  readonly observed = new Map<string, string>();

  private of(placementId: string): Map<string, string> {
    let m = this.recs.get(placementId);
    if (!m) this.recs.set(placementId, (m = new Map()));
    return m;
  }
  async initMachines(placementId: string, records: Array<{ systemId: string }>): Promise<void> {
    const m = this.of(placementId);
    for (const r of records) if (!m.has(r.systemId)) m.set(r.systemId, JSON.stringify(r));
  }
  async machines<T>(placementId: string): Promise<T[]> {
    return [...this.of(placementId).values()].map((s) => JSON.parse(s) as T);
  }
  async machine<T>(placementId: string, systemId: string): Promise<T | null> {
    const s = this.of(placementId).get(systemId);
    return s ? (JSON.parse(s) as T) : null;
  }
  async saveMachine<T extends { systemId: string; generation: number }>(placementId: string, rec: T): Promise<T | null> {
    const m = this.of(placementId);
    const cur = m.get(rec.systemId);
    if ((cur ? (JSON.parse(cur) as { generation: number }).generation : -1) !== rec.generation) return null;
    const next = { ...rec, generation: rec.generation + 1, updatedAt: new Date().toISOString() };
    m.set(rec.systemId, JSON.stringify(next));
    return next;
  }
  async putRolloutPlan(placementId: string, plan: unknown): Promise<void> {
    this.plans.set(placementId, JSON.stringify(plan));
  }
  async getRolloutPlan<T>(placementId: string): Promise<T | null> {
    const s = this.plans.get(placementId);
    return s ? (JSON.parse(s) as T) : null;
  }
  async control(): Promise<Control> {
    return 'run';
  }
}

async function reachable(url: string): Promise<Redis | null> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 500, retryStrategy: () => null });
  r.on('error', () => undefined);
  try {
    await r.connect();
    await r.ping();
    return r;
  } catch {
    r.disconnect();
    return null;
  }
}

const MACHINE_LOCK_MS = 60_000;

export async function openStore(prefix: string): Promise<BenchStore> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const redis = await reachable(url);
  if (!redis) {
    const store = new MemoryRolloutStore();
    return {
      kind: 'memory',
      where: `in memory (no Redis at ${url.replace(/\/\/[^@]*@/, '//***@')})`,
      store,
      around: (_p, _s, _l, fn) => fn(),
      close: async () => undefined,
    };
  }
  const repo = new RolloutRepository(redis, prefix);
  return {
    kind: 'redis',
    where: `Redis ${url.replace(/\/\/[^@]*@/, '//***@')} under ${new StateKeys(prefix).pattern}`,
    store: repo,
    async around(placementId, systemId, limit, fn) {
      // The same slot lease and machine lock the rollout processor takes around each machine.
      if (!(await repo.acquireSlot(placementId, systemId, limit, MACHINE_LOCK_MS)))
        throw new Error(`no free slot for ${systemId} although the bench runs at most ${limit} at once`);
      if (!(await repo.lockMachine(systemId, placementId, MACHINE_LOCK_MS))) throw new Error(`machine ${systemId} is locked`);
      try {
        return await fn();
      } finally {
        // As the processor does: lock and slot are independent keys, given back at once.
        await Promise.all([repo.unlockMachine(systemId, placementId), repo.releaseSlot(placementId, systemId)]);
      }
    },
    async close() {
      // Only the bench's own keys: everything under its unique prefix.
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', new StateKeys(prefix).pattern, 'COUNT', 1000);
        if (keys.length) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
      redis.disconnect();
    },
  };
}

/**
 * A Redis for the queue path: REDIS_URL, else the local one when it answers, else one spawned for
 * this run (as test/global-setup.ts does) and stopped by `stop`.
 */
export async function benchRedis(): Promise<{ url: string; where: string; stop(): Promise<void> }> {
  const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  const found = await reachable(url);
  if (found) {
    found.disconnect();
    return { url, where: url.replace(/\/\/[^@]*@/, '//***@'), stop: async () => undefined };
  }
  const { startEmbeddedRedis } = await import('../libs/runtime/src/redis.embedded');
  const dataDir = `var/bench-redis-${process.pid}`;
  const r = await startEmbeddedRedis({ dataDir });
  return {
    url: r.url,
    where: `a Redis spawned for this run on port ${r.port}`,
    async stop() {
      await r.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
