/**
 * Counts requests refused for authentication (401/403) per client address in fixed windows.
 * Kept in memory, per API process, on purpose: throttling must not itself write to Redis for
 * every anonymous request, which is the flood it exists to stop.
 */
export class RefusalThrottle {
  private readonly windows = new Map<string, { start: number; count: number }>();

  constructor(
    /** Refusals an address may get per window before it gets 429 instead. */
    readonly limit: number,
    readonly windowMs = 60_000,
    /** Addresses tracked at most; past it the stalest are forgotten, so memory stays bounded. */
    private readonly maxAddresses = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Records one refusal from `address`. Returns 0 while it is within its limit (answer 401/403
   * and record it), else the seconds until its window ends (answer 429, record nothing).
   */
  refuse(address: string): number {
    const t = this.now();
    let w = this.windows.get(address);
    if (!w || t - w.start >= this.windowMs) {
      this.windows.delete(address);
      w = { start: t, count: 0 };
      this.windows.set(address, w);
      this.forgetStalest();
    }
    w.count++;
    return w.count <= this.limit ? 0 : Math.max(1, Math.ceil((w.start + this.windowMs - t) / 1000));
  }

  private forgetStalest(): void {
    // Insertion order is window-start order: the first entries are the stalest.
    for (const address of this.windows.keys()) {
      if (this.windows.size <= this.maxAddresses) return;
      this.windows.delete(address);
    }
  }
}
