import { join } from 'node:path';
import { findBpftool, runProcess } from '@ioplane/compiler';
import { describeKernel } from '@ioplane/compiler/testing';
import { AgentClient, signedLoadBody } from '@ioplane/agent-api';
import { bpffsRoot, type ChainModule, type DeviceCounters, type ModuleCounters, type PortInterface } from '@ioplane/devices';
import { aclDropUdpArgs, KernelAgentFixture } from './kernel-agent.fixture';
import {
  attachTailCounter,
  buildCatalogModule,
  buildStage,
  CHAIN_UDP_PORT,
  DROP_MARK,
  sendStageTraffic,
  staticNeighbour,
  type StageTraffic,
  type TailCounter,
} from './chain-traffic.fixture';

// Names of this run only: the agent's namespaces, its veth pair and its bpffs folder derive from agentId.
const kernel = new KernelAgentFixture('e2ec', 'chain-kernel');
const { agentId, token, keys, device } = kernel;
let work: string;
let client: AgentClient;
let iface: PortInterface;
let tail: TailCounter;
let traffic: StageTraffic | undefined;
/** stages[s][v]: stage s, version v (1 or 2). */
const stages: ChainModule[][] = [[], [], []];

const body = (versions: number[]) =>
  signedLoadBody(
    'host-xdp-native',
    versions.map((v, s) => stages[s][v]),
    keys.privateKeyPem,
    0,
    { hook: 'xdp-native' },
  );

const slot = (c: DeviceCounters, name: string): ModuleCounters => {
  const m = c.modules.find((x) => x.module === name);
  if (!m) throw new Error(`no counters for ${name}: ${JSON.stringify(c.modules.map((x) => x.module))}`);
  return m;
};

/** Polls until `ok` holds (or the deadline passes, when the caller's assertions then say what differs). */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  let v = await read();
  while (!ok(v) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    v = await read();
  }
  return v;
}

/**
 * Counters once two readings 100 ms apart agree: a dump reads the slots one after the other, so a
 * straggler (an ARP reply) crossing the chain mid-dump would show in a later slot but not an earlier one.
 */
async function settled(): Promise<DeviceCounters> {
  const key = (c: DeviceCounters) => JSON.stringify(c.modules.map((m) => [m.packets, m.drops, m.passed]));
  let a = await client.counters(device.id);
  for (let i = 0; i < 100; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const b = await client.counters(device.id);
    if (key(a) === key(b)) return b;
    a = b;
  }
  return a;
}

beforeAll(async () => {
  work = await kernel.setUp();
});

afterAll(async () => {
  // Even when a test failed half-way: the sender, the agent, then only what this run created.
  await traffic?.stop().catch(() => undefined);
  await kernel.tearDown();
}, 60_000);

describeKernel('several modules on one XDP hook (tail-call chain)', (itKernel) => {
  itKernel(
    'runs three modules in order on one veth hook; a packet the first drops never reaches the second',
    async () => {
      for (const s of [0, 1, 2]) for (const v of [1, 2]) stages[s][v] = await buildStage(work, join(work, 'cache'), s, v);
      const agent = await kernel.start();
      expect(agent.mode).toBe('kernel');
      client = new AgentClient(agent.url, token);

      // The agent reports what this kernel really gives a hook.
      const inv = (await client.inventory()).devices.find((d) => d.device.id === device.id)!;
      expect('chain' in inv && inv.chain).toMatchObject({ mechanism: 'tail-call', slotsPerHook: 32 });
      expect('programSlotsPerPort' in inv && inv.programSlotsPerPort).toBe(32);

      const loaded = await client.load(device.id, body([1, 1, 1]));
      expect(loaded.status).toBe('loaded');
      expect(loaded.current).toMatchObject({ mechanism: 'tail-call', mode: 'native' });
      expect(loaded.current.modules.map((m) => m.name)).toEqual(['stage0', 'stage1', 'stage2']);

      iface = (await client.programs()).devices[0].ports[0].interface!;
      await staticNeighbour(iface);
      tail = await attachTailCounter(iface, work, join(bpffsRoot(agentId), 'test-tail'), 3);

      const passing = await sendStageTraffic(iface, { count: 300 }).done;
      const dropped = await sendStageTraffic(iface, { count: 100, mark: DROP_MARK }).done;
      expect(passing).toBe(300);
      expect(dropped).toBe(100);

      const t = await until(
        () => tail.read(),
        (x) => x.total >= passing,
      );
      await until(
        () => client.counters(device.id),
        (x) => slot(x, 'stage0').drops >= dropped,
      );
      const c = await settled();
      const [s0, s1, s2] = ['stage0', 'stage1', 'stage2'].map((n) => slot(c, n));
      // Each module ran on the test packets it was due (its own map) and its hook counters moved.
      expect([s0.maps?.seen, s1.maps?.seen, s2.maps?.seen]).toEqual([passing + dropped, passing, passing]);
      expect([s0.maps?.disorder, s1.maps?.disorder, s2.maps?.disorder]).toEqual([0, 0, 0]);
      expect([s0.slot, s1.slot, s2.slot]).toEqual([0, 1, 2]);
      expect(s0.source).toBe('chain');
      // The epilogue times each slot, so every module has its own CPU time.
      expect([s0, s1, s2].map((m) => (m.cpuNs ?? 0) > 0)).toEqual([true, true, true]);
      // The first module's drops never reach the second: a slot sees exactly what the one before passed.
      expect(s0.drops).toBe(dropped);
      expect(s1.packets).toBe(s0.passed);
      expect(s2.packets).toBe(s1.passed);
      expect(s1.drops + s2.drops).toBe(0);
      expect(s0.packets).toBeGreaterThanOrEqual(passing + dropped);
      const hook = c.hooks?.find((h) => h.port === 0);
      expect(hook?.packets).toBe(s0.packets);
      expect(hook?.missed).toBe(0);
      // What left the chain: every passing packet, through stage 0, 1, 2 in that order.
      expect(t).toEqual({ total: passing, ordered: passing, disordered: 0 });
    },
    180_000,
  );

  itKernel(
    'replaces the chain module by module under traffic: every step a whole new array and one atomic swap, 0 lost, order held',
    async () => {
      expect(client).toBeDefined();
      const before = await tail.read();
      const steps = [
        [2, 1, 1],
        [2, 2, 1],
        [2, 2, 2],
        [1, 2, 2],
        [1, 1, 2],
        [1, 1, 1],
        [2, 1, 1],
        [2, 2, 1],
        [2, 2, 2],
      ];
      traffic = sendStageTraffic(iface, { ms: 120_000 });
      const roots = new Set<number>();
      let previous = (await client.programs()).devices[0].ports[0].current!;
      for (const [k, versions] of steps.entries()) {
        const changed = versions.findIndex((v, s) => `1.0.${v}` !== previous.modules[s].version);
        const r = await client.load(device.id, body(versions));
        expect({ step: k, status: r.status }).toEqual({ step: k, status: 'replaced' });
        expect(r.current.modules.map((m) => `${m.name}@${m.version}`)).toEqual(versions.map((v, s) => `stage${s}@1.0.${v}`));
        expect(r.current.rootProgId).not.toBe(previous.rootProgId);
        expect(r.previous?.chainDigest).toBe(previous.chainDigest);
        roots.add(r.current.rootProgId!);
        // The new instance of the changed module (fresh maps) is the one the traffic now meets.
        const c = await until(
          () => client.counters(device.id),
          (x) => (slot(x, `stage${changed}`).maps?.seen ?? 0) > 0,
        );
        expect({ step: k, seen: (slot(c, `stage${changed}`).maps?.seen ?? 0) > 0 }).toEqual({ step: k, seen: true });
        previous = r.current;
      }
      const sent = await traffic.stop();
      traffic = undefined;
      expect(roots.size).toBe(steps.length);
      expect(sent).toBeGreaterThan(1000);
      const after = await until(
        () => tail.read(),
        (x) => x.total - before.total >= sent,
      );
      // Zero loss at the receiving end of the veth, and every packet went through stage 0, 1, 2 in order.
      expect({ lost: sent - (after.total - before.total), disordered: after.disordered - before.disordered }).toEqual({
        lost: 0,
        disordered: 0,
      });
      expect(after.ordered - before.ordered).toBe(sent);

      // The previous chain stays pinned until commit: rolling back is one more atomic swap.
      const back = await client.rollback(device.id, { scope: 'program' });
      expect(back.current?.modules.map((m) => m.version)).toEqual(['1.0.2', '1.0.2', '1.0.1']);
      expect((await client.commit(device.id)).status).toBe('committed');

      // The chain is pinned (root, program array, modules): it runs on while the agent restarts, and the new agent finds it.
      const running = (await client.programs()).devices[0].ports[0].current!;
      await kernel.agent!.close();
      const agent = await kernel.start();
      client = new AgentClient(agent.url, token);
      const found = (await client.programs()).devices[0];
      expect(found.ports[0].current).toMatchObject({
        chainDigest: running.chainDigest,
        rootProgId: running.rootProgId,
        mechanism: 'tail-call',
        rediscovered: true,
      });
      expect(found.foreign).toEqual([]);
      const more = await sendStageTraffic(iface, { count: 200 }).done;
      const last = await until(
        () => tail.read(),
        (x) => x.total - after.total >= more,
      );
      expect({ total: last.total - after.total, ordered: last.ordered - after.ordered }).toEqual({ total: more, ordered: more });
      expect((await client.detach(device.id)).status).toBe('detached');
    },
    240_000,
  );

  itKernel(
    'runs the example chain (acl-firewall, l4-lb, ddos-drop) from the catalog on one native hook',
    async () => {
      expect(client).toBeDefined();
      const chain: ChainModule[] = [];
      for (const name of ['acl-firewall', 'l4-lb', 'ddos-drop']) chain.push((await buildCatalogModule(name, join(work, 'cache'))).module);
      const r = await client.load(
        device.id,
        signedLoadBody('host-xdp-native', chain, keys.privateKeyPem, 0, { hook: 'xdp-native', interface: iface.name }),
      );
      expect(r.current).toMatchObject({ mechanism: 'tail-call', mode: 'native' });
      expect(r.current.modules.map((m) => m.name)).toEqual(['acl-firewall', 'l4-lb', 'ddos-drop']);

      // An ACL rule for the test traffic (udp/CHAIN_UDP_PORT: DROP) in the running acl-firewall's own map.
      const seeded = await runProcess(findBpftool()!, aclDropUdpArgs(kernel.chainDir(r.current.chainDigest), CHAIN_UDP_PORT), {
        timeoutMs: 10_000,
      });
      expect(seeded.stderr).toBe('');

      const c0 = await settled();
      const t0 = await tail.read();
      const blocked = await sendStageTraffic(iface, { count: 200 }).done;
      const probed = (await client.probe(device.id, 0, 100)).sent;
      await until(
        () => client.counters(device.id),
        (x) =>
          slot(x, 'acl-firewall').drops - slot(c0, 'acl-firewall').drops >= blocked &&
          (slot(x, 'ddos-drop').maps?.ddos_stats ?? 0) >= probed,
      );
      const c = await settled();
      const d = (name: string, k: 'packets' | 'drops' | 'passed') => (slot(c, name)[k] ?? 0) - (slot(c0, name)[k] ?? 0);
      // Each module's counter moved; the ACL's drops never reached the load balancer.
      expect(d('acl-firewall', 'packets')).toBeGreaterThanOrEqual(blocked + probed);
      expect(d('acl-firewall', 'drops')).toBe(blocked);
      expect(d('l4-lb', 'packets')).toBe(d('acl-firewall', 'passed'));
      expect(d('l4-lb', 'packets')).toBeGreaterThanOrEqual(probed);
      expect(d('ddos-drop', 'packets')).toBe(d('l4-lb', 'passed'));
      expect(d('ddos-drop', 'packets')).toBeGreaterThanOrEqual(probed);
      expect(slot(c, 'ddos-drop').maps?.ddos_stats).toBeGreaterThanOrEqual(probed);
      expect((await tail.read()).total - t0.total).toBe(0);
      expect((await client.detach(device.id)).status).toBe('detached');
    },
    180_000,
  );

  itKernel(
    'holds the 32 modules it reports per hook: a packet reaches the last slot (the kernel allows 33 tail calls)',
    async () => {
      expect(client).toBeDefined();
      const many = Array.from({ length: 32 }, () => stages[1][1]);
      const r = await client.load(device.id, signedLoadBody('host-xdp-native', many, keys.privateKeyPem));
      expect(r.current).toMatchObject({ mechanism: 'tail-call' });
      expect(r.current.modules).toHaveLength(32);
      const sent = await sendStageTraffic(iface, { count: 50 }).done;
      const last = (c: DeviceCounters) => c.modules.find((m) => m.port === 0 && m.slot === 31);
      const c = await until(
        () => client.counters(device.id),
        (x) => (last(x)?.maps?.seen ?? 0) >= sent,
      );
      expect(last(c)?.maps?.seen).toBe(sent);
      expect(c.hooks?.find((h) => h.port === 0)?.missed).toBe(0);
      const over = await client
        .load(device.id, signedLoadBody('host-xdp-native', [...many, stages[1][1]], keys.privateKeyPem))
        .catch((e: { status: number; field?: string }) => e);
      expect(over).toMatchObject({ status: 400 });
      expect((await client.detach(device.id)).status).toBe('detached');
    },
    180_000,
  );
});
