import { createServer, Server, Socket } from 'node:net';
import type { FirmwareProfile } from '@ioplane/domain';
import { AgentClient, AgentError } from './agent.client';
import { agentDeadlinesFromProfiles } from './agent.deadlines';

/** An agent that accepts connections and never answers: the hung agent of issue 16. */
async function hangingServer(): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const srv: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    // Reads the request and says nothing. Requests are counted, not connections: the HTTP client may
    // open a connection it never sends on, which says nothing about attempts.
    s.on('data', (b: Buffer) => (count += (b.toString('latin1').match(/^(GET|POST|PUT|DELETE) \//gm) ?? []).length));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests: () => count,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

const profile = (id: string, writeSeconds: number, activateSeconds: number) =>
  ({ id, flash: { writeSeconds, activateSeconds } }) as unknown as FirmwareProfile;

describe('agent deadlines', () => {
  let hung: Awaited<ReturnType<typeof hangingServer>>;
  beforeEach(async () => {
    hung = await hangingServer();
  });
  afterEach(async () => {
    await hung.close();
  });

  it('fails a change call to a hung agent at its deadline with agent_timeout, without retrying it', async () => {
    const client = new AgentClient(hung.url, 't', { deadlines: { changeMs: 300, readAttempts: 3, retryDelayMs: 10 } });
    const started = Date.now();
    const err = await client.commit('dev0').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect({ status: (err as AgentError).status, code: (err as AgentError).code }).toEqual({ status: 504, code: 'agent_timeout' });
    expect((err as AgentError).message).toContain('POST /v1/devices/dev0/commit within 300 ms');
    // Generous bound: a busy machine may be slow, but far below any transport default (minutes).
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(hung.requests()).toBe(1);
  });

  it('retries a read (GET) with backoff, each attempt bounded, then fails', async () => {
    const client = new AgentClient(hung.url, 't', { deadlines: { readMs: 200, readAttempts: 3, retryDelayMs: 10 } });
    const err = await client.programs().catch((e: unknown) => e);
    expect((err as AgentError).code).toBe('agent_timeout');
    expect(hung.requests()).toBe(3);
  });

  it("gives a flash the profile's time, not the load's", () => {
    const d = agentDeadlinesFromProfiles([profile('slow-dpu', 120, 300), profile('nic', 2, 15)]);
    const body = (profileId: string) => ({ image: { profileId, version: '1', digest: 'x', signature: 'y' } });
    expect(d.flashMs(body('nic'))).toBe((2 + 15) * 1000 * 2 + 30_000);
    expect(d.flashMs(body('slow-dpu'))).toBe((120 + 300) * 1000 * 2 + 30_000);
    // Unknown profile: the slowest known flash, never unbounded.
    expect(d.flashMs(body('unknown'))).toBe((120 + 300) * 1000 * 2 + 30_000);
    expect(d.changeMs).toBeLessThan(d.flashMs(body('nic')));
    expect(d.firmwareRollbackMs).toBe(300 * 1000 * 2 + 30_000);
  });

  it('a flash to a hung agent fails at the flash deadline', async () => {
    const client = new AgentClient(hung.url, 't', { deadlines: { flashMs: () => 250 } });
    const err = await client
      .flash('dev0', { image: { profileId: 'nic', version: '1', digest: 'a'.repeat(64), signature: 'c2ln' } })
      .catch((e: unknown) => e);
    expect((err as AgentError).message).toContain('within 250 ms');
  });
});

describe("a flat timeoutMs (a probe's budget)", () => {
  it('bounds a read once, without retries', async () => {
    const sockets: Socket[] = [];
    const srv = createServer((s) => {
      sockets.push(s);
      s.on('error', () => undefined);
      s.resume();
    });
    let connections = 0;
    srv.on('connection', () => connections++);
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    try {
      const client = new AgentClient(`http://127.0.0.1:${(srv.address() as { port: number }).port}`, 't', { timeoutMs: 150 });
      const err = await client.inventory().catch((e: unknown) => e);
      expect((err as AgentError).code).toBe('agent_timeout');
      expect(connections).toBe(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  });
});
