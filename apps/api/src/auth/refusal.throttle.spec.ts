import { RefusalThrottle } from './refusal.throttle';

describe(RefusalThrottle.name, () => {
  let now = 1_000_000;
  const sut = (limit = 3, max = 10_000) => new RefusalThrottle(limit, 60_000, max, () => now);

  it('lets an address be refused `limit` times per window, then says how long to wait', () => {
    const t = sut();
    expect([t.refuse('a'), t.refuse('a'), t.refuse('a')]).toEqual([0, 0, 0]);
    now += 15_000;
    expect(t.refuse('a')).toBe(45);
    expect(t.refuse('b')).toBe(0);
    now += 45_000;
    expect(t.refuse('a')).toBe(0);
  });

  it('forgets the stalest addresses past its bound instead of growing', () => {
    const t = sut(1, 100);
    for (let i = 0; i < 1000; i++) t.refuse(`10.0.${i >> 8}.${i & 255}`);
    expect((t as unknown as { windows: Map<string, unknown> }).windows.size).toBeLessThanOrEqual(100);
    // The newest are still counted.
    expect(t.refuse('10.0.3.231')).toBeGreaterThan(0);
  });
});
