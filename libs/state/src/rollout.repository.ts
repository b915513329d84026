import type { Redis } from 'ioredis';
import { ReplicaWait, UnreplicatedWrite } from './replica.wait';
import { StateKeys } from './state.keys';
import { AcquireDecision, decideAcquire, decideClaim, decideLetGo, decideRenew, LeaseFence, MachineLease } from './machine.lease';

/** What a machine runs, as last committed by a rollout: the fleet's observed state. */
export interface ObservedPlacement {
  systemId: string;
  placementId: string;
  committedAt: string;
  /** One entry per loaded hop: a module on two ports is listed twice, each with its interface. */
  modules: Array<{
    name: string;
    version: string;
    digest: string;
    deviceId: string;
    target: string;
    profileId: string | null;
    interface?: string;
  }>;
  /** Device id -> firmware profile it runs after the rollout. */
  firmware: Record<string, string>;
  /** The placement this one replaced on the machine, if any. */
  previousPlacementId: string | null;
  /** False while MAAS has not taken this commit's workload annotations (it was down): the reconciler catches up. */
  annotated?: boolean;
}

// Write only if the stored generation is the one the writer read: a stale worker loses.
const CAS = `
local cur = redis.call('HGET', KEYS[1], ARGV[1])
local gen = -1
if cur then gen = tonumber(cjson.decode(cur)['generation']) end
if gen ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1`;

// The same compare-and-swap, and the writer's fence (owner and generation) must still match the
// machine's lease: a job whose lease was taken over since it acquired it writes nothing.
const FENCED_CAS = `
local lease = redis.call('GET', KEYS[2])
if not lease then return 2 end
local l = cjson.decode(lease)
if l['owner'] ~= ARGV[4] or tonumber(l['gen']) ~= tonumber(ARGV[5]) then return 2 end${CAS}`;

// An object's bytes (kept if already there), the placement's hold on them, the digest listed.
const KEEP_ARTIFACT = `
redis.call('SET', KEYS[1], ARGV[1], 'NX')
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[3])
return 1`;

// The holds of ended placements given back; with none left, the bytes and the listing go.
const FREE_ARTIFACT = `
for i = 2, #ARGV do redis.call('SREM', KEYS[2], ARGV[i]) end
if redis.call('SCARD', KEYS[2]) > 0 then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return 1`;

// All or none: every key still holds what the caller read (ARGV[i], '' for none), then each gets
// its new value (ARGV[n+i], '' to delete). The decision itself is made in machine.lease.ts.
const SWAP_ALL = `
local n = #KEYS
for i = 1, n do
  if (redis.call('GET', KEYS[i]) or '') ~= ARGV[i] then return 0 end
end
for i = 1, n do
  if ARGV[n + i] == '' then redis.call('DEL', KEYS[i]) else redis.call('SET', KEYS[i], ARGV[n + i]) end
end
return 1`;

/** A placement touching machines another unfinished placement holds: refused, never queued behind it. */
export class MachineLeased extends Error {
  readonly code = 'machine_leased';
  constructor(readonly held: Array<{ owner: string; machines: string[] }>) {
    super(held.map((h) => `machine(s) ${h.machines.join(', ')} are leased by placement ${h.owner} until its rollout ends`).join('; '));
  }
}

const LEASE_SWAP_TRIES = 20;

export type LeaseAcquired = { ok: true; fence: LeaseFence } | Extract<AcquireDecision, { ok: false }>;

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
  constructor(
    private readonly redis: Redis,
    prefix: string,
    o: { onUnreplicated?: UnreplicatedWrite } = {},
  ) {
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
  async saveMachine<T extends { systemId: string; generation: number }>(
    placementId: string,
    rec: T,
    fence?: LeaseFence,
  ): Promise<T | null> {
    const next = { ...rec, generation: rec.generation + 1, updatedAt: new Date().toISOString() };
    if (fence && fence.systemId !== rec.systemId) throw new Error(`fence of ${fence.systemId} shown for a write to ${rec.systemId}`);
    const ok = fence
      ? await this.redis.eval(
          FENCED_CAS,
          2,
          this.keys.rolloutMachines(placementId),
          this.keys.machineLease(rec.systemId),
          rec.systemId,
          String(rec.generation),
          JSON.stringify(next),
          fence.owner,
          String(fence.gen),
        )
      : await this.redis.eval(CAS, 1, this.keys.rolloutMachines(placementId), rec.systemId, String(rec.generation), JSON.stringify(next));
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

  /** Each machine's part of the plan, written once at rollout start: a machine's jobs read only theirs. */
  async putMachineSlices(placementId: string, slices: Record<string, unknown>): Promise<void> {
    const entries = Object.entries(slices);
    if (!entries.length) return;
    await this.redis.hset(this.keys.rolloutSlices(placementId), Object.fromEntries(entries.map(([id, s]) => [id, JSON.stringify(s)])));
    await this.durable.after(`rollout ${placementId} slices`);
  }

  async machineSlice<T>(placementId: string, systemId: string): Promise<T | null> {
    const s = await this.redis.hget(this.keys.rolloutSlices(placementId), systemId);
    return s ? (JSON.parse(s) as T) : null;
  }

  /**
   * A planned module's object, stored under the sha256 of its bytes and held by the placement
   * that planned it: the same address always holds the same bytes, so a second plan of the same
   * build writes nothing new (NX), only its hold. Bytes and hold go in one script, so a sweep
   * never frees an object between the two.
   */
  async putArtifact(digest: string, bytes: Buffer, placementId: string): Promise<void> {
    await this.redis.eval(
      KEEP_ARTIFACT,
      3,
      this.keys.artifact(digest),
      this.keys.artifactHolders(digest),
      this.keys.artifacts,
      bytes,
      placementId,
      digest,
    );
    await this.durable.after(`artifact ${digest.slice(0, 12)}`);
  }

  /**
   * Frees the objects no live placement holds: the holds of placements `ended` names are given
   * back, and an object left with none is deleted. A placement that ended needs no bytes again (a
   * rollback restores what the agent kept); one planned later stores them again. Returns how many
   * objects were deleted.
   */
  async sweepArtifacts(ended: (placementIds: string[]) => Promise<Set<string>>): Promise<number> {
    const digests = await this.redis.smembers(this.keys.artifacts);
    if (!digests.length) return 0;
    const holders = await Promise.all(digests.map((d) => this.redis.smembers(this.keys.artifactHolders(d))));
    const done = await ended([...new Set(holders.flat())]);
    let freed = 0;
    for (const [i, digest] of digests.entries()) {
      const gone = holders[i].filter((id) => done.has(id));
      // A digest with no holder at all (its last hold given back by a sweep that died halfway) goes too.
      if (!gone.length && holders[i].length) continue;
      const deleted = await this.redis.eval(
        FREE_ARTIFACT,
        3,
        this.keys.artifact(digest),
        this.keys.artifactHolders(digest),
        this.keys.artifacts,
        digest,
        ...gone,
      );
      freed += Number(deleted);
    }
    return freed;
  }

  async artifact(digest: string): Promise<Buffer | null> {
    return this.redis.getBuffer(this.keys.artifact(digest));
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

  async lease(systemId: string): Promise<MachineLease | null> {
    const s = await this.redis.get(this.keys.machineLease(systemId));
    return s ? (JSON.parse(s) as MachineLease) : null;
  }

  /**
   * Reads the leases of `systemIds`, lets `decide` say what they become (a map of new values,
   * null to delete; or no change), and writes them only if none changed meanwhile; else again.
   */
  private async swapLeases<R>(
    systemIds: string[],
    decide: (current: Map<string, MachineLease | null>) => Promise<{ result: R; next?: Map<string, MachineLease | null> }>,
  ): Promise<R> {
    for (let i = 0; i < LEASE_SWAP_TRIES; i++) {
      const keys = systemIds.map((id) => this.keys.machineLease(id));
      const raw = keys.length ? await this.redis.mget(...keys) : [];
      const current = new Map(systemIds.map((id, j) => [id, raw[j] ? (JSON.parse(raw[j]!) as MachineLease) : null]));
      const { result, next } = await decide(current);
      if (!next || next.size === 0) return result;
      const ids = [...next.keys()];
      const argv = [
        ...ids.map((id) => raw[systemIds.indexOf(id)] ?? ''),
        ...ids.map((id) => (next.get(id) ? JSON.stringify(next.get(id)) : '')),
      ];
      if (Number(await this.redis.eval(SWAP_ALL, ids.length, ...ids.map((id) => this.keys.machineLease(id)), ...argv)) === 1) {
        await this.durable.after(`leases of ${ids.length} machine(s)`);
        return result;
      }
    }
    throw new Error(`machine leases of ${systemIds.length} machine(s) kept changing under ${LEASE_SWAP_TRIES} attempts`);
  }

  /**
   * The placement `owner` takes every machine of `systemIds`, all or none: throws MachineLeased
   * naming the machines another placement that has not ended holds. `ended` is asked only about
   * placements found holding one of them.
   */
  async claimMachines(owner: string, systemIds: string[], ended: (placementId: string) => Promise<boolean>): Promise<void> {
    const known = new Map<string, boolean>();
    await this.swapLeases(systemIds, async (current) => {
      for (const l of current.values()) if (l && l.owner !== owner && !known.has(l.owner)) known.set(l.owner, await ended(l.owner));
      const d = decideClaim(owner, current, (o) => known.get(o) ?? false);
      if (!d.ok) throw new MachineLeased(d.held);
      return { result: undefined, next: d.next };
    });
  }

  /** A job of `owner` takes the machine for a step; the fence it gets goes with every write. */
  async acquireLease(
    systemId: string,
    owner: string,
    holder: string,
    ttlMs: number,
    ended: (placementId: string) => Promise<boolean>,
  ): Promise<LeaseAcquired> {
    return this.swapLeases<LeaseAcquired>(systemIds(systemId), async (current) => {
      const cur = current.get(systemId) ?? null;
      const otherEnded = cur && cur.owner !== owner ? await ended(cur.owner) : false;
      const d = decideAcquire(cur, { owner, holder, now: Date.now(), ttlMs }, () => otherEnded);
      if (!d.ok) return { result: d };
      return { result: { ok: true as const, fence: { systemId, owner, gen: d.next.gen } }, next: new Map([[systemId, d.next]]) };
    });
  }

  /** False when the lease moved on (the hold ran out and another job took it): the holder must stop writing. */
  async renewLease(fence: LeaseFence, ttlMs: number): Promise<boolean> {
    return this.swapLeases(systemIds(fence.systemId), async (current) => {
      const next = decideRenew(current.get(fence.systemId) ?? null, fence, Date.now(), ttlMs);
      return next ? { result: true, next: new Map([[fence.systemId, next]]) } : { result: false };
    });
  }

  /** The step ended: nobody holds the machine, its placement still owns it. */
  async letGoLease(fence: LeaseFence): Promise<void> {
    await this.swapLeases(systemIds(fence.systemId), async (current) => {
      const next = decideLetGo(current.get(fence.systemId) ?? null, fence);
      return { result: undefined, next: next ? new Map([[fence.systemId, next]]) : undefined };
    });
  }

  /** The placement's rollout ended: the machines it still owns are free. */
  async releaseLeases(owner: string, ids: string[]): Promise<void> {
    await this.swapLeases(ids, async (current) => ({
      result: undefined,
      next: new Map([...current].filter(([, l]) => l?.owner === owner).map(([id]) => [id, null])),
    }));
  }

  /** At most `limit` machines of a placement in flight: maxUnavailable. */
  async acquireSlot(placementId: string, holder: string, limit: number, leaseMs: number): Promise<boolean> {
    const now = Date.now();
    return (
      Number(
        await this.redis.eval(
          ACQUIRE,
          1,
          this.keys.rolloutInflight(placementId),
          String(now),
          String(now + leaseMs),
          holder,
          String(limit),
        ),
      ) === 1
    );
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

const systemIds = (id: string): string[] => [id];
