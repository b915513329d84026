/**
 * The state store (Redis) failed, not the step: a rollout never rolls a machine back for it. The
 * job fails instead and BullMQ runs it again later, resuming from the machine's record as after a
 * worker crash; a machine whose job is gone is resolved by reconcile (reconcile.ts).
 */
export class StoreUnavailable extends Error {
  readonly code = 'store_unavailable';
  constructor(
    what: string,
    override readonly cause: unknown,
  ) {
    super(`state store unavailable (${what}): ${(cause as Error)?.message ?? String(cause)}`);
  }
}

export interface StoreRetryOptions {
  /** Total time a call is retried for; a Redis failover or restart takes seconds. */
  budgetMs?: number;
  sleep?(ms: number): Promise<void>;
  now?(): number;
}

const FIRST_DELAY_MS = 200;
const MAX_DELAY_MS = 4_000;

/**
 * Runs a store call, again with doubling delays while it throws, for at most budgetMs (30 s by
 * default); then throws StoreUnavailable. `attempt` lets a compare-and-swap tell a first try from
 * a retry whose earlier attempt may have been applied before its reply was lost.
 */
export async function withStoreRetry<T>(what: string, call: (attempt: number) => Promise<T>, opts: StoreRetryOptions = {}): Promise<T> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const end = now() + (opts.budgetMs ?? 30_000);
  let delay = FIRST_DELAY_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return await call(attempt);
    } catch (e) {
      if (e instanceof StoreUnavailable) throw e;
      const left = end - now();
      if (left <= 0) throw new StoreUnavailable(what, e);
      await sleep(Math.min(delay, left));
      delay = Math.min(delay * 2, MAX_DELAY_MS);
    }
  }
}

export function isStoreUnavailable(e: unknown): e is StoreUnavailable {
  return e instanceof StoreUnavailable;
}
