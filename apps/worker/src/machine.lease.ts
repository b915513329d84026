import type { LeaseFence } from '@ioplane/state';

/** How long a machine stays held without a renewal: a dead worker's hold runs out, its placement keeps the machine. */
export const MACHINE_LEASE_MS = 60_000;

/**
 * Keeps a lease alive while a step runs. Each renewal is awaited before the next is scheduled and
 * its failure is reported, never thrown: a renewal that rejects while Redis is down must not become
 * an unhandled rejection (Node exits on those), and the lease's TTL already covers a short outage.
 */
export function keepRenewing(renew: () => Promise<unknown>, everyMs: number, onError: (e: unknown) => void): { stop(): Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let inFlight: Promise<void> = Promise.resolve();
  const tick = () => {
    inFlight = renew()
      .then(
        () => undefined,
        (e) => onError(e),
      )
      .then(() => {
        if (!stopped) timer = setTimeout(tick, everyMs);
      });
  };
  timer = setTimeout(tick, everyMs);
  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await inFlight;
    },
  };
}

type Acquired = { ok: true; fence: LeaseFence } | { ok: false; owner: string; holder: string | null; why: 'owned' | 'held' };

/**
 * A machine's lease for a wave's commit, rollback or cancel. Another job of the same placement
 * holding it is waited out (it ends, or its hold runs out within `waitMs`); another placement
 * owning it is an error: the wave's job fails and runs again rather than touch that machine.
 */
export async function acquireWaiting(
  systemId: string,
  acquire: () => Promise<Acquired>,
  waitMs: number,
  pollMs = 300,
): Promise<LeaseFence> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const r = await acquire();
    if (r.ok) return r.fence;
    if (r.why === 'owned') throw new Error(`machine_leased: machine ${systemId} is leased by placement ${r.owner}`);
    if (Date.now() >= deadline) throw new Error(`machine ${systemId} is still held by ${r.holder} after ${waitMs} ms`);
    await new Promise((res) => setTimeout(res, pollMs));
  }
}
