import { AddressInfo, connect, createServer, Server, Socket } from 'node:net';
import { once } from 'node:events';
import { sever } from './agent-link.fixture';

/**
 * The relay's way of cutting a connection must close the socket whatever state its shutdown is
 * in: a socket reset while its shutdown is in flight never closes, and the test process then never
 * exits (Node waits for the handle in its exit cleanup).
 */
describe('agent link: severing a connection', () => {
  let server: Server;
  const peers: Socket[] = [];

  beforeEach(async () => {
    server = createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
  });

  afterEach(async () => {
    for (const p of peers.splice(0)) p.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });

  /** A connection to the test server; resolves with the server's side of it. */
  async function accepted(): Promise<Socket> {
    const got = once(server, 'connection');
    const peer = connect((server.address() as AddressInfo).port, '127.0.0.1');
    peer.on('error', () => undefined);
    peers.push(peer);
    const [s] = (await got) as [Socket];
    s.on('error', () => undefined);
    return s;
  }

  it('closes a socket whose own shutdown has begun (end() then cut): a reset there would leave it open forever', async () => {
    const s = await accepted();
    s.end();
    const closed = once(s, 'close');
    sever(s);
    await closed;
    expect(s.destroyed).toBe(true);
  });

  it('resets an open socket: the peer sees ECONNRESET, as from a killed agent', async () => {
    const s = await accepted();
    const peer = peers[0];
    const peerError = new Promise<NodeJS.ErrnoException>((r) => peer.once('error', r));
    const closed = once(s, 'close');
    sever(s);
    await closed;
    expect((await peerError).code).toBe('ECONNRESET');
  });
});
