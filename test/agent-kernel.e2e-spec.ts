import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { buildModule } from '@ioplane/compiler';
import { describeKernel, OUT_OF_BOUNDS_XDP } from '@ioplane/compiler/testing';
import { AgentClient, AgentError, signedLoadBody } from '@ioplane/agent-api';
import { KernelAgentFixture } from './kernel-agent.fixture';
import { sendUdp, udpCounterSource, type UdpTraffic } from './udp-traffic.fixture';

const kernel = new KernelAgentFixture('e2ek', 'agent-kernel');
const { token, keys, device } = kernel;
let root: string;
let traffic: UdpTraffic | undefined;
const objects: Record<string, Buffer> = {};

async function build(name: string, text: string): Promise<Buffer> {
  const dir = join(root, name);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(join(dir, 'prog.c'), text);
  const a = await buildModule({ name, dir, sources: ['prog.c'] }, { cacheDir: join(root, 'cache') });
  return fsp.readFile(a.objectPath);
}

const body = (ver: number) =>
  signedLoadBody(
    'host-xdp-native',
    [{ name: 'udp-counter', version: `1.0.${ver}`, program: 'udp_counter', object: objects[`v${ver}`], persistentMaps: ['hits'] }],
    keys.privateKeyPem,
  );

beforeAll(async () => {
  root = await kernel.setUp();
});

afterAll(async () => {
  await traffic?.stop().catch(() => undefined);
  // Only what this test created: its bpffs folder, its two namespaces (which take the veth pair along).
  await kernel.tearDown();
}, 60_000);

describeKernel('agent kernel-xdp driver', (itKernel) => {
  itKernel(
    'attaches in a namespace, replaces atomically under traffic without loss, survives a restart',
    async () => {
      objects.v0 = await build('v0', udpCounterSource(0, 2));
      objects.v1 = await build('v1', udpCounterSource(1, 2));
      objects.oob = await build('oob', OUT_OF_BOUNDS_XDP);
      let agent = await kernel.start();
      expect(agent.mode).toBe('kernel');
      const client = new AgentClient(agent.url, token);

      const first = await client.load(device.id, body(0));
      expect(first.status).toBe('loaded');
      expect(first.current.mode).toBe('native');
      expect(first.current.rootProgId).toBeGreaterThan(0);
      expect((await client.load(device.id, body(0))).status).toBe('unchanged');

      const port = (await client.programs()).devices[0].ports[0];
      const iface = port.interface!;
      expect(iface.name.length).toBeLessThanOrEqual(15);
      expect(existsSync(`/var/run/netns/${iface.netns}`)).toBe(true);

      // A fixed number of swaps while traffic flows, however slow a busy machine makes each one.
      traffic = sendUdp(iface, { ms: 120_000, burst: 50 });
      const progIds = new Set<number>([first.current.rootProgId!]);
      let swaps = 0;
      while (swaps < 6) {
        const r = await client.load(device.id, body((swaps + 1) % 2));
        expect(r.status).toBe('replaced');
        progIds.add(r.current.rootProgId!);
        swaps++;
      }
      const sent = await traffic.stop();
      expect(sent).toBeGreaterThan(1000);

      const counters = await client.counters(device.id);
      const hits = counters.modules[0].maps?.hits;
      // Every datagram the sender handed to the kernel was counted by the old or the new version.
      expect(hits).toBe(sent);
      expect(counters.modules[0].packets).toBeGreaterThanOrEqual(sent);

      // The previous chain stays pinned until commit: rollback is one more atomic swap.
      const before = (await client.programs()).devices[0].ports[0];
      expect(before.previous).not.toBeNull();
      const back = await client.rollback(device.id, { scope: 'program' });
      expect(back.current?.chainDigest).toBe(before.previous!.chainDigest);
      await expect(client.rollback(device.id, { scope: 'program' })).rejects.toMatchObject({ status: 409, code: 'nothing_to_roll_back' });
      expect((await client.commit(device.id)).status).toBe('committed');

      // The kernel's verifier refuses a bad program; the running chain is untouched.
      const refused = await client
        .load(
          device.id,
          signedLoadBody('host-xdp-native', [{ name: 'oob', version: '1', program: 'oob', object: objects.oob }], keys.privateKeyPem),
        )
        .catch((e: AgentError) => e);
      expect(refused).toBeInstanceOf(AgentError);
      expect((refused as AgentError).code).toBe('kernel_refused');
      expect((refused as AgentError).message).toMatch(/invalid access to packet/);

      // Restart: the new agent finds the pinned link and reports it; nothing was detached.
      const running = (await client.programs()).devices[0].ports[0].current!;
      await agent.close();
      agent = await kernel.start();
      const again = new AgentClient(agent.url, token);
      const after = (await again.programs()).devices[0];
      expect(after.ports[0].current).toMatchObject({
        chainDigest: running.chainDigest,
        rootProgId: running.rootProgId,
        rediscovered: true,
      });
      expect(after.ports[0].current!.modules.map((m) => m.name)).toEqual(['udp-counter']);
      expect(after.foreign).toEqual([]);
      const more = await sendUdp(iface, { ms: 300, burst: 50 }).done;
      const total = (await again.counters(device.id)).modules[0].maps?.hits;
      expect(total).toBe(sent + more);

      expect((await again.detach(device.id)).status).toBe('detached');
      expect((await again.programs()).devices[0].ports[0].current).toBeNull();
    },
    120_000,
  );
});
