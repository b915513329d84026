import { createServer, connect, Server, Socket } from 'node:net';
import type { Harness } from '../harness';

/**
 * Ends a connection as a dead process's kernel does: a reset (RST), or a plain close once this side
 * has begun its shutdown. Node resets through uv_tcp_close_reset, which refuses a socket whose
 * shutdown (end(), or the automatic one after the peer's FIN) may be in flight: `reset` fails with
 * EINVAL, Node marks the handle closing although libuv never closes it, no 'close' event comes, and
 * the process spins forever in its exit cleanup waiting for that handle (the hang that had kept
 * jest on forceExit).
 */
export function sever(socket: Socket): void {
  if (socket.writableEnded || socket.destroyed) socket.destroy();
  else socket.resetAndDestroy();
}

/**
 * The path from the controller to one simulated machine's agent, which a fault test can break
 * as a dead or a hung agent process breaks it. The simulator's agents run embedded (no process of
 * their own without a kernel fleet), so the machine's MAAS address is moved to a TCP relay in
 * front of its agent before the fleet is synced; the test's own agent client still talks to the
 * agent directly, so the end checks read what the device really runs.
 *
 * - `kill()`: a dead process: every open connection is reset, new ones are refused.
 * - `hang()`: a process that stopped answering: connections are accepted and whatever goes
 *   either way is dropped, so an answer in flight (a flash's) never arrives.
 * - `restore()`: the agent restarted: held connections are reset, new ones reach it again.
 *
 * The device behind it carries on with what it was asked (a flash already handed to the card
 * runs to its end), as a card does when its agent dies.
 */
export class AgentLink {
  private server: Server | null = null;
  private readonly pairs = new Set<{ client: Socket; upstream: Socket | null }>();
  state: 'up' | 'killed' | 'hung' = 'up';
  private trigger: { request: RegExp; fire(): void } | null = null;

  private constructor(
    readonly address: string,
    readonly port: number,
    private readonly upstream: { host: string; port: number },
  ) {}

  /** Before syncFleet: the machine's MAAS address becomes the relay's (a free loopback address on the agents' port). */
  static async inFrontOf(h: Harness, hostname: string): Promise<AgentLink> {
    const m = h.sim.store.list().find((x) => x.hostname === hostname);
    if (!m) throw new Error(`no simulated machine ${hostname}`);
    const agent = h.sim.agents.get(m.systemId);
    if (!agent) throw new Error(`no agent for ${hostname}`);
    const up = new URL(agent.url);
    // Loopback answers on all of 127.0.0.0/8; the simulator's agents use 127.77.z.n, so 127.78.x.y is ours.
    const address = `127.78.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    const link = new AgentLink(address, Number(up.port), { host: up.hostname, port: Number(up.port) });
    await link.listen();
    m.model.ipAddress = address;
    for (const i of m.model.interfaces) if (i.isBoot) i.ipAddress = address;
    return link;
  }

  private listen(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.address, () => resolve());
    });
  }

  private accept(client: Socket): void {
    client.on('error', () => undefined);
    const pair: { client: Socket; upstream: Socket | null } = { client, upstream: null };
    this.pairs.add(pair);
    client.once('close', () => {
      pair.upstream?.destroy();
      this.pairs.delete(pair);
    });
    // Hung: accepted (the kernel does that for a stopped process too) and never answered.
    if (this.state === 'hung') return;
    const upstream = connect(this.upstream.port, this.upstream.host);
    pair.upstream = upstream;
    // A hung agent closes nothing: its side of a connection going away is not passed on then.
    upstream.on('error', () => this.state === 'up' && client.destroy());
    upstream.once('close', () => this.state === 'up' && client.destroy());
    client.on('data', (b: Buffer) => {
      // The agent dies on receiving this request: it is never passed on, and nothing answers.
      if (this.state === 'up' && this.trigger?.request.test(b.toString('latin1'))) return this.trigger.fire();
      if (this.state === 'up') upstream.write(b);
    });
    upstream.on('data', (b: Buffer) => this.state === 'up' && client.write(b));
  }

  private resetAll(): void {
    for (const p of this.pairs) {
      p.upstream?.destroy();
      sever(p.client);
    }
    this.pairs.clear();
  }

  async kill(): Promise<void> {
    this.state = 'killed';
    this.resetAll();
    const s = this.server;
    this.server = null;
    await new Promise<void>((r) => (s ? s.close(() => r()) : r()));
  }

  /**
   * Kills the link when a request whose head matches `request` arrives (before it reaches the
   * agent): a fault at an exact step (the health check's first exercise, say), not at a moment.
   * Resolves once it has fired.
   */
  killOn(request: RegExp): Promise<void> {
    return new Promise<void>((resolve) => {
      this.trigger = {
        request,
        fire: () => {
          this.trigger = null;
          void this.kill().then(resolve);
        },
      };
    });
  }

  hang(): void {
    this.state = 'hung';
  }

  async restore(): Promise<void> {
    const was = this.state;
    this.resetAll();
    this.state = 'up';
    if (was === 'killed') await this.listen();
  }

  async close(): Promise<void> {
    this.state = 'killed';
    this.resetAll();
    const s = this.server;
    this.server = null;
    await new Promise<void>((r) => (s ? s.close(() => r()) : r()));
  }
}
