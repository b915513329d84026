/**
 * Machine leases, as decisions only (no Redis here): the repository reads a lease, asks one of
 * these functions what the next lease is, and writes it with a compare-and-set on the value it
 * read, so two writers never both win.
 *
 * A lease names the placement that owns a machine (`owner`) from its submission until its
 * rollout ended, and, while a job of that placement acts on the machine, that job (`holder`)
 * and how long its hold lasts without a renewal (`until`). `gen` is the fencing token: it grows
 * on every acquisition, and every state write and every commit or rollback for the machine
 * carries the `gen` it acquired; a holder whose lease was taken over since writes nothing.
 */
export interface MachineLease {
  owner: string;
  gen: number;
  holder: string | null;
  /** Epoch ms after which the holder counts as dead; 0 when nobody holds the machine. */
  until: number;
}

/** What a writer shows to prove it still holds the machine. */
export interface LeaseFence {
  systemId: string;
  owner: string;
  gen: number;
}

export type ClaimDecision =
  { ok: true; next: Map<string, MachineLease> } | { ok: false; held: Array<{ owner: string; machines: string[] }> };

/**
 * A placement claims the machines it plans to change, all or none. A machine is free when no
 * placement owns it or its owner has ended (`ended` says so: a release that never happened, for
 * example after a crash, must not keep a machine forever). Taking a machine over bumps `gen`, so
 * anything the previous owner still has in flight is fenced off.
 */
export function decideClaim(
  owner: string,
  current: ReadonlyMap<string, MachineLease | null>,
  ended: (owner: string) => boolean,
): ClaimDecision {
  const next = new Map<string, MachineLease>();
  const held = new Map<string, string[]>();
  for (const [systemId, lease] of current) {
    if (lease && lease.owner === owner) continue;
    if (lease && !ended(lease.owner)) {
      held.set(lease.owner, [...(held.get(lease.owner) ?? []), systemId]);
      continue;
    }
    next.set(systemId, { owner, gen: (lease?.gen ?? 0) + 1, holder: null, until: 0 });
  }
  if (held.size) return { ok: false, held: [...held].map(([o, machines]) => ({ owner: o, machines: machines.sort() })) };
  return { ok: true, next };
}

export type AcquireDecision = { ok: true; next: MachineLease } | { ok: false; owner: string; holder: string | null; why: 'owned' | 'held' };

/**
 * A job of `owner` takes the machine for a step (a machine job, or its wave's commit or
 * rollback). Refused while another placement that has not ended owns it, or while another job
 * of the same placement holds it and its hold has not run out. A holder whose hold ran out (its
 * worker died) is replaced; the same job resumed takes it back. Every acquisition bumps `gen`.
 */
export function decideAcquire(
  current: MachineLease | null,
  want: { owner: string; holder: string; now: number; ttlMs: number },
  ownerEnded: (owner: string) => boolean,
): AcquireDecision {
  if (current && current.owner !== want.owner && !ownerEnded(current.owner))
    return { ok: false, owner: current.owner, holder: current.holder, why: 'owned' };
  if (current && current.owner === want.owner && current.holder && current.holder !== want.holder && current.until > want.now) {
    return { ok: false, owner: current.owner, holder: current.holder, why: 'held' };
  }
  return { ok: true, next: { owner: want.owner, gen: (current?.gen ?? 0) + 1, holder: want.holder, until: want.now + want.ttlMs } };
}

/** Still the holder under this fence: the hold is extended. Null when the lease moved on. */
export function decideRenew(current: MachineLease | null, fence: LeaseFence, now: number, ttlMs: number): MachineLease | null {
  if (!fenceHolds(current, fence)) return null;
  return { ...current!, until: now + ttlMs };
}

/** The step ended: the machine stays the owner's (until its rollout ends), nobody holds it. */
export function decideLetGo(current: MachineLease | null, fence: LeaseFence): MachineLease | null {
  if (!fenceHolds(current, fence)) return null;
  return { ...current!, holder: null, until: 0 };
}

export function fenceHolds(current: MachineLease | null, fence: LeaseFence): boolean {
  return !!current && current.owner === fence.owner && current.gen === fence.gen;
}
