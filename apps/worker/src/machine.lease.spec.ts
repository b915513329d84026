import { keepRenewing } from './machine.lease';

describe(keepRenewing.name, () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  beforeAll(() => process.on('unhandledRejection', onUnhandled));
  afterAll(() => process.off('unhandledRejection', onUnhandled));

  it('reports a renewal that rejects instead of leaving it unhandled, and keeps renewing', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const lease = keepRenewing(
      async () => {
        calls++;
        if (calls <= 2) throw new Error('Connection is closed.');
      },
      5,
      (e) => errors.push(e),
    );
    while (calls < 4) await new Promise((r) => setTimeout(r, 5));
    await lease.stop();
    // Give Node the turn on which it reports unhandled rejections.
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 20));
    expect(unhandled).toEqual([]);
    expect(errors.map((e) => (e as Error).message)).toEqual(['Connection is closed.', 'Connection is closed.']);
  });

  it('never runs two renewals at once and none after stop() returns', async () => {
    let running = 0;
    let overlap = false;
    let calls = 0;
    let release: () => void = () => undefined;
    const lease = keepRenewing(
      () => {
        calls++;
        running++;
        if (running > 1) overlap = true;
        return new Promise<void>((r) => (release = () => (running--, r())));
      },
      1,
      () => undefined,
    );
    while (calls < 1) await new Promise((r) => setTimeout(r, 2));
    // The first renewal hangs (Redis is retrying): no second one starts meanwhile.
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(1);
    const stopped = lease.stop();
    release();
    await stopped;
    const after = calls;
    await new Promise((r) => setTimeout(r, 20));
    expect({ overlap, calls }).toEqual({ overlap: false, calls: after });
  });
});
