import type { Redis } from 'ioredis';
import { PlacementRecord, PlacementRepository, PlacementStatus } from './placement.repository';
import { ReplicaWait, UnreplicatedWrite } from './replica.wait';
import { StateKeys } from './state.keys';

const IDEMPOTENCY_TTL_SECONDS = 24 * 3600;

// Claim the key and store the record in one step, so two concurrent submissions with the same
// key can never both create a placement.
const CREATE = `
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
if ARGV[4] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[5]) end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return false`;

export class RedisPlacementRepository implements PlacementRepository {
  private readonly keys: StateKeys;
  /** An accepted placement (202) and its status must survive a failover of the primary. */
  private readonly durable: ReplicaWait;
  constructor(
    private readonly redis: Redis,
    prefix: string,
    o: { onUnreplicated?: UnreplicatedWrite } = {},
  ) {
    this.keys = new StateKeys(prefix);
    this.durable = new ReplicaWait(redis, { onUnreplicated: o.onUnreplicated });
  }

  async create(rec: PlacementRecord): Promise<{ record: PlacementRecord; created: boolean }> {
    const idem = this.keys.idempotency(rec.idempotencyKey ?? `none-${rec.id}`);
    const existing = (await this.redis.eval(
      CREATE,
      3,
      idem,
      this.keys.placement(rec.id),
      this.keys.placements,
      rec.id,
      JSON.stringify(rec),
      String(Date.parse(rec.createdAt)),
      rec.idempotencyKey ?? '',
      String(IDEMPOTENCY_TTL_SECONDS),
    )) as string | null;
    if (!existing) {
      await this.durable.after(`placement ${rec.id}`);
      return { record: rec, created: true };
    }
    const prior = await this.get(existing);
    if (!prior) throw new Error(`idempotency key points at missing placement ${existing}`);
    return { record: prior, created: false };
  }

  async get(id: string): Promise<PlacementRecord | null> {
    const s = await this.redis.get(this.keys.placement(id));
    return s ? (JSON.parse(s) as PlacementRecord) : null;
  }

  async list(limit = 50): Promise<PlacementRecord[]> {
    const ids = await this.redis.zrevrange(this.keys.placements, 0, limit - 1);
    if (!ids.length) return [];
    const raw = await this.redis.mget(ids.map((i) => this.keys.placement(i)));
    return raw.filter((s): s is string => !!s).map((s) => JSON.parse(s) as PlacementRecord);
  }

  async setStatus(id: string, status: PlacementStatus, error: string | null = null): Promise<void> {
    const key = this.keys.placement(id);
    // WATCH makes the read-modify-write safe against a concurrent writer on the same record.
    for (let attempt = 0; attempt < 10; attempt++) {
      await this.redis.watch(key);
      const s = await this.redis.get(key);
      if (!s) {
        await this.redis.unwatch();
        throw new Error(`no placement ${id}`);
      }
      const rec = JSON.parse(s) as PlacementRecord;
      const next = { ...rec, status, error, updatedAt: new Date().toISOString() };
      const ok = await this.redis.multi().set(key, JSON.stringify(next)).exec();
      if (ok) {
        await this.durable.after(`placement ${id} status`);
        return;
      }
    }
    throw new Error(`placement ${id}: too much contention updating status`);
  }

  async putPlan(id: string, plan: unknown): Promise<void> {
    await this.redis.set(this.keys.placementPlan(id), JSON.stringify(plan));
  }

  async getPlan<T>(id: string): Promise<T | null> {
    const s = await this.redis.get(this.keys.placementPlan(id));
    return s ? (JSON.parse(s) as T) : null;
  }

  async remove(id: string): Promise<void> {
    const rec = await this.get(id);
    const tx = this.redis.multi().del(this.keys.placement(id), this.keys.placementPlan(id)).zrem(this.keys.placements, id);
    if (rec?.idempotencyKey) tx.del(this.keys.idempotency(rec.idempotencyKey));
    await tx.exec();
  }
}
