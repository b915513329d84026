import { Writable } from 'node:stream';
import { Harness, http, startHarness, waitJob } from './harness';

async function sync(h: Harness) {
  const { body } = await http(h.apiUrl, 'POST', '/v1/fleet/sync', {});
  return waitJob(h.apiUrl, body.jobId);
}

describe('a bad MAAS API key', () => {
  let h: Harness;
  const badKey = 'wrongconsumer:wrongtoken:wrongsecret123';
  beforeAll(async () => {
    h = await startHarness({ apiKey: badKey });
  });
  afterAll(() => h?.stop());

  it('fails the sync with a clear error, once, and writes nothing', async () => {
    const job = await sync(h);
    expect(job.state).toBe('failed');
    expect(job.failedReason).toMatch(/401|API key/i);
    expect(job.failedReason).not.toContain('wrongsecret123');
    expect(job.attemptsMade).toBe(1);
    expect(await h.redis.keys(`${h.keys.base}:fleet:*`)).toEqual([]);
    const list = (await http(h.apiUrl, 'GET', '/v1/fleet/machines')).body;
    expect(list).toMatchObject({ generation: 0, count: 0, items: [] });
  });
});

describe('a MAAS 503 storm', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ maasRetry: { maxAttempts: 3, initialDelayMs: 10, maxDelayMs: 50 } });
  });
  afterAll(() => h?.stop());

  it('is retried, then reported; the last good inventory stays', async () => {
    expect((await sync(h)).state).toBe('completed');
    const before = (await http(h.apiUrl, 'GET', '/v1/fleet/machines')).body;
    expect(before.generation).toBe(1);

    h.sim.faults.set({ unavailableRate: 1, retryAfterSeconds: 1 });
    const failed = await sync(h);
    expect(failed.state).toBe('failed');
    expect(failed.failedReason).toMatch(/unavailable|503/i);
    expect(failed.failedReason).toMatch(/after 3 attempt/);
    const after = (await http(h.apiUrl, 'GET', '/v1/fleet/machines')).body;
    expect(after.generation).toBe(1);
    expect(after.count).toBe(before.count);

    // A MAAS that recovers is read again (the breaker has not opened after one failed call).
    h.sim.faults.clear();
    const ok = await sync(h);
    expect(ok.state).toBe('completed');
    expect((await http(h.apiUrl, 'GET', '/v1/fleet/machines')).body.generation).toBe(2);
  });
});

describe('a partial MAAS 503 storm', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ maasRetry: { maxAttempts: 6, initialDelayMs: 5, maxDelayMs: 20 } });
  });
  afterAll(() => h?.stop());

  it('is ridden out by retries', async () => {
    // 6 tries per call at 10 % failures: a call fails outright once in a million, so the ~36 calls of a sync get through.
    h.sim.faults.set({ unavailableRate: 0.1, retryAfterSeconds: 0 });
    const job = await sync(h);
    expect(job.state).toBe('completed');
    expect((await http(h.apiUrl, 'GET', '/v1/fleet/machines')).body.count).toBe(h.sim.model.hosts.length);
  });
});

describe('logs', () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _e, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ logLevel: 'debug', logDestination: destination as never });
  });
  afterAll(() => h?.stop());

  it('never carry the MAAS key or an Authorization header', async () => {
    const token = 'Bearer iop_e2e_secret_token_0123456789';
    await fetch(`${h.apiUrl}/v1/fleet/machines`, { headers: { authorization: token } });
    expect((await sync(h)).state).toBe('completed');
    const out = lines.join('');
    expect(out).toContain('/v1/fleet/machines');
    expect(out).toContain('fleet synced');
    expect(out).not.toContain('iop_e2e_secret_token_0123456789');
    for (const part of h.sim.apiKey.split(':')) expect(out).not.toContain(part);
  });
});
