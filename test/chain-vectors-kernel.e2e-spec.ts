import { join } from 'node:path';
import { findBpftool, runProcess, runVectors, type KernelVector } from '@ioplane/compiler';
import { describeKernel } from '@ioplane/compiler/testing';
import { DEFAULT_MODULES_DIR, loadModule, packetHex } from '@ioplane/modules';
import { AgentClient, signedLoadBody } from '@ioplane/agent-api';
import type { ChainModule, DeviceCounters, VectorOutcome } from '@ioplane/devices';
import { buildCatalogModule, staticNeighbour } from './chain-traffic.fixture';
import { until } from './harness';
import { aclDropUdpArgs, aclUdpKey, KernelAgentFixture } from './kernel-agent.fixture';

// Test vectors run on the chain as deployed (the live program of each module's slot), not on a copy:
// a vector fails because of how its module is deployed (the live map's state, another program in
// its slot) where the same vector passes on a fresh copy of the module.
const kernel = new KernelAgentFixture('e2ev', 'chain-vectors');
const { token, keys, device } = kernel;
const NAMES = ['acl-firewall', 'ttl-guard', 'flow-counter'] as const;
/** udp/7777: no catalog ACL rule names it, so an empty rule table passes it. */
const UDP_PORT = 7777;

let work: string;
let client: AgentClient;
const chain: ChainModule[] = [];
const objects = new Map<string, string>();
let chainDir: string;

type Vec = {
  module: string;
  name: string;
  packetHex: string;
  expectVerdict: KernelVector['expectVerdict'];
  expectOutputHex?: string;
  repeat?: number;
};

function catalogVectors(name: string): Vec[] {
  return loadModule(join(DEFAULT_MODULES_DIR, name)).vectors.map((v) => ({
    module: name,
    name: v.name,
    packetHex: packetHex(v),
    expectVerdict: v.expect.verdict,
    expectOutputHex: v.expect.outputHex,
    repeat: v.repeat,
  }));
}

const aclVector: Vec = {
  module: 'acl-firewall',
  name: `udp/${UDP_PORT} passes (no rule)`,
  packetHex: packetHex({
    name: 'udp',
    input: { fields: { ipSrc: '192.0.2.10', ipDst: '192.0.2.1', proto: 'udp', srcPort: 40000, dstPort: UDP_PORT } },
    expect: { verdict: 'XDP_PASS' },
  } as never),
  expectVerdict: 'XDP_PASS',
};

/** The same vector on a fresh copy of the module's object (what the agent did before). */
async function onCopy(v: Vec): Promise<boolean> {
  const [r] = await runVectors(
    objects.get(v.module)!,
    [{ name: v.name, packet: Buffer.from(v.packetHex, 'hex'), expectVerdict: v.expectVerdict, repeat: v.repeat }],
    { program: 'xdp', type: 'xdp', timingRepeat: 0 },
  );
  return r.passed;
}

async function bpftool(args: string[]): Promise<string> {
  const r = await runProcess(findBpftool()!, args, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`bpftool ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const slotOf = (c: DeviceCounters, name: string) => c.modules.find((m) => m.module === name)!;

beforeAll(async () => {
  work = await kernel.setUp();
});

afterAll(() => kernel.tearDown(), 60_000);

describeKernel('test vectors through the deployed chain', (itKernel) => {
  itKernel(
    "runs each module's vectors on its live slot: the packet goes on through the later slots, the verdict is the module's own",
    async () => {
      for (const name of NAMES) {
        const { module, objectPath } = await buildCatalogModule(name, join(work, 'cache'));
        objects.set(name, objectPath);
        chain.push(module);
      }
      const agent = await kernel.start();
      expect(agent.mode).toBe('kernel');
      client = new AgentClient(agent.url, token);
      const loaded = await client.load(device.id, signedLoadBody('host-xdp-native', chain, keys.privateKeyPem, 0, { hook: 'xdp-native' }));
      expect(loaded.current).toMatchObject({ mechanism: 'tail-call' });
      chainDir = kernel.chainDir(loaded.current.chainDigest);

      // Probe packets first cross the chain from its root, so each CPU's hand-off stamp has been set once.
      // Static neighbours on both ends: no ARP request or reply (the host answering the probes) may
      // reach the chain on its own schedule, between the counter reads around the vectors.
      await staticNeighbour((await client.programs()).devices[0].ports[0].interface!);
      const idle = await client.counters(device.id);
      const { sent } = await client.probe(device.id, 0, 20);
      // The probe's answer means sent, not counted: the last packets may still be on their way into
      // the chain. Counted before the vectors run, by the last slot (every probe packet passes).
      const before = await until(
        () => `the ${sent} probe packets to reach flow-counter's slot`,
        async () => {
          const c = await client.counters(device.id);
          return slotOf(c, 'flow-counter').packets - slotOf(idle, 'flow-counter').packets >= sent ? c : null;
        },
      );
      const ttl = catalogVectors('ttl-guard');
      const flow = catalogVectors('flow-counter');
      const r = await client.runVectors(device.id, { port: 0, vectors: [...ttl, ...flow] });
      expect(r.results.filter((x) => !x.passed).map((x) => x.reason)).toEqual([]);
      const ids = loaded.current.modules.map((m) => m.progId);
      const at = (x: VectorOutcome) => [x.module, x.deployed?.slot, x.deployed?.progId, x.deployed?.rootProgId];
      expect(r.results.map(at)).toEqual([
        ...ttl.map(() => ['ttl-guard', 1, ids[1], loaded.current.rootProgId]),
        ...flow.map(() => ['flow-counter', 2, ids[2], loaded.current.rootProgId]),
      ]);
      // Output bytes are the module's own only in the last slot (or when its verdict ends the chain).
      expect(r.results.filter((x) => x.deployed?.outputCompared).map((x) => x.name)).toEqual(
        flow.filter((v) => v.expectOutputHex).map((v) => v.name),
      );

      // Through the chain: the slot before saw none of it, the module's slot every vector, the slot after what it passed.
      const after = await client.counters(device.id);
      const d = (name: string) => slotOf(after, name).packets - slotOf(before, name).packets;
      const ttlPassed = ttl.filter((v) => v.expectVerdict === 'XDP_PASS').length;
      const flowRuns = flow.reduce((n, v) => n + 1 + (v.repeat ?? 0), 0);
      expect({ acl: d('acl-firewall'), ttl: d('ttl-guard'), flow: d('flow-counter') }).toEqual({
        acl: 0,
        ttl: ttl.length,
        flow: ttlPassed + flowRuns,
      });
      // A slot entered directly has no hand-off to time from: it adds its run time, not the idle time since the last packet.
      expect((slotOf(after, 'ttl-guard').cpuNs ?? 0) - (slotOf(before, 'ttl-guard').cpuNs ?? 0)).toBeLessThan(50_000_000);
    },
    240_000,
  );

  itKernel(
    'a vector fails on the deployed map state (an ACL rule in the live table) where it passes on a copy',
    async () => {
      expect(client).toBeDefined();
      const clean = await client.runVectors(device.id, { port: 0, vectors: [aclVector] });
      expect(clean.results[0]).toMatchObject({ passed: true, actualVerdict: 'XDP_PASS', deployed: { slot: 0 } });
      await bpftool(aclDropUdpArgs(chainDir, UDP_PORT));
      const r = await client.runVectors(device.id, { port: 0, vectors: [aclVector] });
      expect(r.passed).toBe(false);
      expect(r.results[0]).toMatchObject({ passed: false, actualVerdict: 'XDP_DROP', deployed: { slot: 0, outputCompared: false } });
      expect(r.results[0].reason).toContain('on the deployed chain: expected verdict XDP_PASS, got XDP_DROP');
      expect(r.results[0].notRun).toBeUndefined();
      expect(await onCopy(aclVector)).toBe(true);
      await bpftool(['map', 'delete', 'pinned', join(chainDir, 'm0_map_acl_rules'), 'key', 'hex', ...aclUdpKey(UDP_PORT)]);
    },
    120_000,
  );

  itKernel(
    'a vector fails when its slot holds another program than the agent loaded there, where it passes on a copy',
    async () => {
      expect(client).toBeDefined();
      const dropTtl1 = catalogVectors('ttl-guard').find((v) => v.expectVerdict === 'XDP_DROP')!;
      expect((await client.runVectors(device.id, { port: 0, vectors: [dropTtl1] })).passed).toBe(true);
      // Slots 1 and 2 swapped in the live program array, behind the agent (as corrupted device state would).
      const progs = join(chainDir, 'progs');
      const ids = (await client.programs()).devices[0].ports[0].current!.modules.map((m) => m.progId!);
      await bpftool(['map', 'update', 'pinned', progs, 'key', '1', '0', '0', '0', 'value', 'id', String(ids[2])]);
      await bpftool(['map', 'update', 'pinned', progs, 'key', '2', '0', '0', '0', 'value', 'id', String(ids[1])]);
      const r = await client.runVectors(device.id, { port: 0, vectors: [dropTtl1] });
      expect(r.results[0]).toMatchObject({ passed: false, deployed: { slot: 1, progId: ids[2] } });
      expect(r.results[0].reason).toContain('slot 1 runs flow-counter instead of ttl-guard (ttl-guard sits in slot 2)');
      expect(await onCopy(dropTtl1)).toBe(true);
      expect((await client.detach(device.id)).status).toBe('detached');
    },
    120_000,
  );
});
