import type { Redis } from 'ioredis';
import { ReplicaWait, UnreplicatedWrite } from './replica.wait';
import { StateKeys } from './state.keys';

/** What a machine runs, as last committed by a rollout: the fleet's observed state. */
export interface ObservedPlacement {
  systemId: string;
  placementId: string;
  committedAt: string;
  /** One entry per loaded hop: a module on two ports is listed twice, each with its interface. */
  modules: Array<{ name: string; version: string; digest: string; deviceId: string; target: string; profileId: string | null; interface?: string }>;
  /** Device id -> firmware profile it runs after the rollout. */
  firmware: Record<string, string>;
  /** The placement this one replaced on the machine, if any. */
  previousPlacementId: string | null;
}

// Write only if the stored generation is the one the writer read: a stale worker loses.
const CAS = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local gen = -1
if cur then gen = tonumber(cjson.decode(cur)['generation']) end
if gen ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`;

// A lease table: members are holders, scores their expiry (ms). Expired leases are dropped first,
// so a worker that died never blocks a slot for longer than its lease.
const ACQUIRE = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3]) return 1 end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1`;

const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

const RENEW_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

export class RolloutRepository {
  private readonly keys: StateKeys;
  /** Machine records, rollout plans and what machines run decide what a rollout does next: replicated before acknowledged. */
  private readonly durable: ReplicaWait;
  constructor(private readonly redis: Redis, prefix: string, o: { onUnreplicated?: UnreplicatedWrite } = {}) {
    this.keys = new StateKeys(prefix);
    this.durable = new ReplicaWait(redis, { onUnreplicated: o.onUnreplicated });
  }

  async initMachines<T extends { systemId: string }>(placementId: string, records: T[]): Promise<void> {
    if (!records.length) return;
    // HSETNX: a re-run of the initialising job never resets a machine that already moved.
    const tx = this.redis.multi();
    for (const r of records) tx.hsetnx(this.keys.rolloutMachines(placementId), r.systemId, JSON.stringify(r));
    await tx.exec();
    await this.durable.after(`rollout ${placementId} machines`);
  }

  async machines<T>(placementId: string): Promise<T[]> {
    return (await this.redis.hvals(this.keys.rolloutMachines(placementId))).map((s) => JSON.parse(s) as T);
  }

  async machine<T>(placementId: string, systemId: string): Promise<T | null> {
    const s = await this.redis.hget(this.keys.rolloutMachines(placementId), systemId);
    return s ? (JSON.parse(s) as T) : null;
  }

  /** Compare-and-swap on the record's generation; returns the stored record or null when another writer won. */
  async saveMachine<T extends { systemId: string; generation: number }>(placementId: string, rec: T): Promise<T | null> {
    const next = { ...rec, generation: rec.generation + 1, updatedAt: new Date().toISOString() };
    const ok = await this.redis.eval(CAS, 1, this.keys.rolloutMachines(placementId), rec.systemId, String(rec.generation), JSON.stringify(next));
    if (Number(ok) !== 1) return null;
    await this.durable.after(`rollout ${placementId} machine ${rec.systemId}`);
    return next;
  }

  async putRolloutPlan(placementId: string, plan: unknown): Promise<void> {
    await this.redis.set(this.keys.rolloutPlan(placementId), JSON.stringify(plan));
    await this.durable.after(`rollout ${placementId} plan`);
  }

  async getRolloutPlan<T>(placementId: string): Promise<T | null> {
    const s = await this.redis.get(this.keys.rolloutPlan(placementId));
    return s ? (JSON.parse(s) as T) : null;
  }

  /** One rollout step per machine across all placements and workers. */
  async lockMachine(systemId: string, token: string, ttlMs: number): Promise<boolean> {
    return (await this.redis.set(this.keys.machineLock(systemId), token, 'PX', ttlMs, 'NX')) === 'OK';
  }

  async renewMachineLock(systemId: string, token: string, ttlMs: number): Promise<boolean> {
    return Number(await this.redis.eval(RENEW_LOCK, 1, this.keys.machineLock(systemId), token, String(ttlMs))) === 1;
  }

  async unlockMachine(systemId: string, token: string): Promise<void> {
    await this.redis.eval(RELEASE_LOCK, 1, this.keys.machineLock(systemId), token);
  }

  /** At most `limit` machines of a placement in flight: maxUnavailable. */
  async acquireSlot(placementId: string, holder: string, limit: number, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    return Number(await this.redis.eval(ACQUIRE, 1, this.keys.rolloutInflight(placementId), String(now), String(now + leaseMs), holder, String(limit))) === 1;
  }

  async releaseSlot(placementId: string, holder: string): Promise<void> {
    await this.redis.zrem(this.keys.rolloutInflight(placementId), holder);
  }

  async setObserved(o: ObservedPlacement): Promise<void> {
    await this.redis.hset(this.keys.observed, o.systemId, JSON.stringify(o));
    await this.durable.after(`observed ${o.systemId}`);
  }

  async observed(systemId: string): Promise<ObservedPlacement | null> {
    const s = await this.redis.hget(this.keys.observed, systemId);
    return s ? (JSON.parse(s) as ObservedPlacement) : null;
  }

  async clearObserved(systemId: string): Promise<void> {
    await this.redis.hdel(this.keys.observed, systemId);
  }

  async allObserved(): Promise<ObservedPlacement[]> {
    return (await this.redis.hvals(this.keys.observed)).map((s) => JSON.parse(s) as ObservedPlacement);
  }

  /** Operator control of a running rollout: read by every machine job between steps. */
  async setControl(placementId: string, control: 'run' | 'pause' | 'cancel' | 'rollback'): Promise<void> {
    await this.redis.set(this.keys.rolloutControl(placementId), control);
  }

  async control(placementId: string): Promise<'run' | 'pause' | 'cancel' | 'rollback'> {
    return ((await this.redis.get(this.keys.rolloutControl(placementId))) as 'run' | 'pause' | 'cancel' | 'rollback' | null) ?? 'run';
  }
}
