import { StoreUnavailable, withStoreRetry } from './store.retry';

/** A clock the sleeps advance: no real time passes, nothing is timed. */
function clock() {
  let t = 0;
  const slept: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      slept.push(ms);
      t += ms;
    },
    slept,
  };
}

describe('withStoreRetry', () => {
  it('retries a failing call with doubling delays until it answers', async () => {
    const c = clock();
    let n = 0;
    const out = await withStoreRetry(
      'w',
      async (attempt) => {
        n++;
        if (attempt < 3) throw new Error('Connection is closed.');
        return attempt;
      },
      { now: c.now, sleep: c.sleep },
    );
    expect(out).toBe(3);
    expect(n).toBe(4);
    expect(c.slept).toEqual([200, 400, 800]);
  });

  it('gives up after its budget with StoreUnavailable carrying the cause', async () => {
    const c = clock();
    const cause = new Error('Reached the max retries per request limit (which is 3).');
    const e = await withStoreRetry('machine m1', async () => Promise.reject(cause), { budgetMs: 20_000, now: c.now, sleep: c.sleep }).catch(
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(StoreUnavailable);
    expect(e).toMatchObject({ code: 'store_unavailable', cause, message: expect.stringContaining('machine m1') });
    expect(c.slept.reduce((a, b) => a + b, 0)).toBe(20_000);
    expect(Math.max(...c.slept)).toBe(4_000);
  });

  it('does not retry a StoreUnavailable from a nested call', async () => {
    let n = 0;
    const inner = new StoreUnavailable('inner', new Error('x'));
    await expect(
      withStoreRetry('outer', async () => {
        n++;
        throw inner;
      }),
    ).rejects.toBe(inner);
    expect(n).toBe(1);
  });
});
