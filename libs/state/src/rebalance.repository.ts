import type { Redis } from 'ioredis';
import { StateKeys } from './state.keys';

/** Proposals kept; the oldest beyond this are deleted when a new one is stored. */
export const MAX_PROPOSALS = 1000;

interface StoredProposal {
  id: string;
  status: string;
  createdAt: string;
}

/** Policy, per-machine decision state and proposals of the rebalancer. Shapes are the rebalance library's. */
export class RebalanceRepository {
  private readonly keys: StateKeys;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new StateKeys(prefix);
  }

  async policy<T>(): Promise<T | null> {
    const s = await this.redis.get(this.keys.rebalancePolicy);
    return s ? (JSON.parse(s) as T) : null;
  }

  async setPolicy(policy: unknown): Promise<void> {
    await this.redis.set(this.keys.rebalancePolicy, JSON.stringify(policy));
  }

  async states<T>(): Promise<Map<string, T>> {
    const all = await this.redis.hgetall(this.keys.rebalanceState);
    return new Map(Object.entries(all).map(([k, v]) => [k, JSON.parse(v) as T]));
  }

  async putStates(states: Array<{ systemId: string }>): Promise<void> {
    if (!states.length) return;
    await this.redis.hset(this.keys.rebalanceState, Object.fromEntries(states.map((s) => [s.systemId, JSON.stringify(s)])));
  }

  async dropState(systemId: string): Promise<void> {
    await this.redis.hdel(this.keys.rebalanceState, systemId);
  }

  async createProposal<T extends StoredProposal>(p: T): Promise<boolean> {
    const created = await this.redis.hsetnx(this.keys.rebalanceProposals, p.id, JSON.stringify(p));
    if (!created) return false;
    await this.redis.zadd(this.keys.rebalanceProposalIndex, Date.parse(p.createdAt), p.id);
    const over = (await this.redis.zcard(this.keys.rebalanceProposalIndex)) - MAX_PROPOSALS;
    if (over > 0) {
      const old = await this.redis.zrange(this.keys.rebalanceProposalIndex, 0, over - 1);
      await this.redis
        .multi()
        .hdel(this.keys.rebalanceProposals, ...old)
        .zrem(this.keys.rebalanceProposalIndex, ...old)
        .exec();
    }
    return true;
  }

  async proposal<T>(id: string): Promise<T | null> {
    const s = await this.redis.hget(this.keys.rebalanceProposals, id);
    return s ? (JSON.parse(s) as T) : null;
  }

  /** Newest first. */
  async proposals<T>(limit = 200): Promise<T[]> {
    const ids = await this.redis.zrevrange(this.keys.rebalanceProposalIndex, 0, limit - 1);
    if (!ids.length) return [];
    return (await this.redis.hmget(this.keys.rebalanceProposals, ...ids)).filter((s): s is string => !!s).map((s) => JSON.parse(s) as T);
  }

  /**
   * Moves a proposal on only from one of `from` (WATCH: the API approving and the worker dropping
   * the same proposal cannot both win). Returns the stored proposal, or null with the status found.
   */
  async transition<T extends StoredProposal>(
    id: string,
    from: readonly string[],
    patch: (p: T) => T,
  ): Promise<{ ok: true; proposal: T } | { ok: false; status: string | null }> {
    const key = this.keys.rebalanceProposals;
    for (let attempt = 0; attempt < 10; attempt++) {
      await this.redis.watch(key);
      const s = await this.redis.hget(key, id);
      if (!s) {
        await this.redis.unwatch();
        return { ok: false, status: null };
      }
      const cur = JSON.parse(s) as T;
      if (!from.includes(cur.status)) {
        await this.redis.unwatch();
        return { ok: false, status: cur.status };
      }
      const next = patch(cur);
      if (await this.redis.multi().hset(key, id, JSON.stringify(next)).exec()) return { ok: true, proposal: next };
    }
    throw new Error(`proposal ${id}: too much contention`);
  }
}
