import type { Redis } from 'ioredis';

/** A write that must outlive a failover went out, and no replica confirmed it in time. */
export type UnreplicatedWrite = (what: string, replicas: number) => void;

/**
 * `WAIT` after writes that must not be lost, where a replica exists: with Sentinel, a primary
 * that dies right after acknowledging a rollout step would otherwise take that step with it,
 * and the promoted replica would send the rollout back in time. A server without replicas (the
 * embedded one) pays one cached `INFO replication` every few seconds and nothing per write.
 * A cluster client is skipped: WAIT has no key, so ioredis could send it to another shard.
 */
export class ReplicaWait {
  private replicas = 0;
  private checkedAt = -Infinity;

  constructor(
    private readonly redis: Redis,
    private readonly o: { timeoutMs?: number; recheckMs?: number; onUnreplicated?: UnreplicatedWrite } = {},
  ) {}

  /** Resolves with the number of replicas that acknowledged the connection's writes so far. */
  async after(what: string): Promise<number> {
    if ((this.redis as unknown as { isCluster?: boolean }).isCluster) return 0;
    const replicas = await this.connectedReplicas();
    if (replicas === 0) return 0;
    const acked = Number(await this.redis.call('WAIT', '1', String(this.o.timeoutMs ?? 1000)));
    if (acked < 1) {
      // The replica may be gone for good: look again next time instead of waiting out every write.
      this.checkedAt = -Infinity;
      this.o.onUnreplicated?.(what, replicas);
    }
    return acked;
  }

  private async connectedReplicas(): Promise<number> {
    const now = Date.now();
    if (now - this.checkedAt < (this.o.recheckMs ?? 5000)) return this.replicas;
    const info = await this.redis.info('replication');
    this.replicas = Number(/^connected_slaves:(\d+)/m.exec(info)?.[1] ?? 0);
    this.checkedAt = now;
    return this.replicas;
  }
}
