import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentClient, AgentError } from './agent.client';

/** An agent that answers every request with one fixed body. */
async function agentAnswering(status: number, body: unknown): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe(AgentClient.name, () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((ok) => s.close(ok))));
  });
  const client = async (status: number, body: unknown) => {
    const a = await agentAnswering(status, body);
    servers.push(a.server);
    return new AgentClient(a.url, 't', { timeoutMs: 2_000 });
  };

  it('returns an answer that fits the contract', async () => {
    const c = await client(200, { deviceId: 'm1/nfp0', port: 0, sent: 50 });
    await expect(c.probe('m1/nfp0')).resolves.toEqual({ deviceId: 'm1/nfp0', port: 0, sent: 50 });
  });

  it('refuses an answer outside the contract with bad_response, naming the field', async () => {
    // A commit answer whose status the contract does not know: the runbook must not read it as committed.
    const c = await client(200, { status: 'done', deviceId: 'm1/nfp0', port: 0, current: null });
    const e = await c.commit('m1/nfp0').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AgentError);
    expect(e).toMatchObject({ code: 'bad_response', status: 502, field: 'status' });
  });

  it("keeps the agent's own error code and field", async () => {
    const c = await client(422, { error: { code: 'slot_limit', message: 'too many', field: 'modules' } });
    await expect(c.commit('m1/nfp0')).rejects.toMatchObject({ code: 'slot_limit', status: 422, field: 'modules' });
  });
});
