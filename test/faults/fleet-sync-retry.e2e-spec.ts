import { Harness, http, startHarness, until, waitJob } from '../harness';

describe("a fleet sync during a MAAS outage longer than the client's own retries", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ agents: false, maasRetry: { maxAttempts: 2, initialDelayMs: 10, maxDelayMs: 20 } });
  }, 60_000);
  afterAll(async () => {
    h?.sim.faults.clear();
    await h?.stop();
  });

  it('is retried as a job with backoff and completes once MAAS is back', async () => {
    h.sim.faults.set({ unavailableRate: 1, retryAfterSeconds: 0 });
    const { body } = await http(h.apiUrl, 'POST', '/v1/fleet/sync', {});
    // The first attempt failed (MAAS still down); the job waits for its next attempt instead of failing.
    const first = await until(
      'the first attempt to fail',
      async () => {
        const j = (await http(h.apiUrl, 'GET', `/v1/jobs/${body.jobId}`)).body;
        return j.attemptsMade >= 1 || j.state === 'failed' ? j : null;
      },
      30_000,
    );
    expect(first.state).not.toBe('failed');
    h.sim.faults.clear();
    const done = await waitJob(h.apiUrl, body.jobId);
    // The attempt seen failing above is what proves the retry; BullMQ versions differ on whether a
    // completion counts in attemptsMade, so the final count is not asserted beyond it.
    expect({ state: done.state, retried: first.attemptsMade >= 1 }).toEqual({ state: 'completed', retried: true });
    expect((await http(h.apiUrl, 'GET', '/v1/fleet/machines')).body.count).toBeGreaterThan(0);
  });
});
