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
