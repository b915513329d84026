import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { dirname, join } from 'node:path';
import { bareNic, type Device } from '@ioplane/domain';
import { findBpftool, runProcess } from '@ioplane/compiler';
import { describeKernel } from '@ioplane/compiler/testing';
import { AgentClient, AgentError, generateSigningKeys, signedLoadBody } from '@ioplane/agent-api';
import {
  bpffsRoot,
  buildTopology,
  FLEET_MARKER_DIR,
  netnsPath,
  removeLeftovers,
  removeTopology,
  sendAtWire,
  type ChainModule,
  type DeviceCounters,
  type MachineTopology,
} from '@ioplane/devices';
import { loadProfiles } from '@ioplane/profiles';
import { startAgent, type RunningAgent } from '../apps/agent/src';
import { packetHex } from '@ioplane/modules';
import { buildChainModule, buildStage, hopXdpDriver, stagedNic } from './chain-traffic.fixture';
import { UDP_XDP_PRELUDE } from './udp-traffic.fixture';

/** Drops every UDP packet to port 9 (the wire probe's): a stage that drops everything it is sent. */
function dropUdpModule(work: string): Promise<ChainModule> {
  return buildChainModule(work, join(work, 'cache'), {
    folder: 'udp-drop',
    name: 'udp-drop',
    version: '1.0.0',
    program: 'udp_drop',
    source: `${UDP_XDP_PRELUDE}#include "iop_chain.h"
static __always_inline int verdict(struct xdp_md *ctx) {
  struct udphdr *udp = udp_of(ctx);
  if (!udp) return XDP_PASS;
  return udp->dest == bpf_htons(9) ? XDP_DROP : XDP_PASS;
}
SEC("xdp") int udp_drop(struct xdp_md *ctx) { return verdict(ctx); }
IOP_CHAIN_ENTRY(verdict)
char _license[] SEC("license") = "GPL";
`,
  });
}

// Every name of this run derives from `run`: namespaces, bpffs folder, marker files.
const run = randomBytes(3).toString('hex');
const hostname = `e13-${run}`;
const agentId = `e13a-${run}`;
const token = randomBytes(24).toString('hex');
const keys = generateSigningKeys();
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
const LONG = 'enp129s0f0np0-uplink';
const device: Device = bareNic(agentId, 'ens1f0', ['ens1f0']);
let work: string;
let topo: MachineTopology | undefined;
let agent: RunningAgent | undefined;
const stages: ChainModule[] = [];
const stray: string[] = [];

const rows = (c: DeviceCounters) => c.modules.map((m) => ({ module: m.module, packets: m.packets, source: m.source }));

beforeAll(async () => {
  work = await fsp.mkdtemp('/tmp/ioplane-e13-');
});

afterAll(async () => {
  await agent?.close().catch(() => undefined);
  if (topo) await removeTopology(topo).catch(() => undefined);
  for (const ns of stray) if (existsSync(netnsPath(ns))) await runProcess('/usr/sbin/ip', ['netns', 'del', ns], { env: ENV });
  await fsp.rm(join(FLEET_MARKER_DIR, `iop-${hostname}-dead.json`), { force: true });
  await fsp.rm(bpffsRoot(agentId), { recursive: true, force: true });
  await fsp.rm(bpffsRoot(`${agentId}-nic`), { recursive: true, force: true });
  await fsp.rm(bpffsRoot(`${agentId}-nfp`), { recursive: true, force: true });
  await fsp.rm(work, { recursive: true, force: true });
}, 60_000);

describeKernel('a packet-true emulated machine', (itKernel) => {
  itKernel(
    'wire -> DPU -> NIC stage -> host: MAAS-named netdevs, a long name mapped and reported',
    async () => {
      topo = await buildTopology({
        hostname,
        instanceId: run,
        index: 200,
        ports: [{ interface: 'ens1f0', nicStage: true }, { interface: 'ens2f0np0', dpu: 'dpu0' }, { interface: LONG }],
      });
      expect(topo.ports[0].hops.map((h) => `${h.kind}:${h.netns}:${h.ingress}`)).toEqual([
        `wire:iop-${hostname}-wire:w0`,
        `nic:iop-${hostname}-nic:s0in`,
        `host:iop-${hostname}:ens1f0`,
      ]);
      expect(topo.ports[1].hops.map((h) => `${h.kind}:${h.ingress}>${h.egress}`)).toEqual([
        'wire:w1>null',
        'dpu:p0>pf0hpf',
        'host:ens2f0np0>null',
      ]);
      expect(topo.renamed[LONG]).toMatch(/^[a-z0-9]{1,8}x[0-9a-f]{6}$/);
      // Checked from outside, with ip itself.
      const out = await runProcess('/usr/sbin/ip', ['-n', topo.hostNetns, '-j', 'link', 'show'], { env: ENV });
      const names = (JSON.parse(out.stdout) as { ifname: string }[]).map((l) => l.ifname);
      expect(names).toEqual(expect.arrayContaining(['ens1f0', 'ens2f0np0', topo.renamed[LONG]]));
      // A namespace someone else made is never taken over: a second instance with the same hostname is refused.
      await expect(buildTopology({ hostname, instanceId: `${run}x`, index: 201, ports: [{ interface: 'ens1f0' }] })).rejects.toMatchObject({
        code: 'device_busy',
      });
    },
    60_000,
  );

  itKernel(
    'the agent acts on ens1f0 by name: inventory from ip/ethtool, an unknown interface refused by name, probe at the wire counted per module',
    async () => {
      expect(topo).toBeDefined();
      for (const s of [0, 1]) stages[s] = await buildStage(work, join(work, 'cache'), s, 1);
      const wireNs = topo!.ports[0].hops[0].netns;
      agent = await startAgent({
        id: agentId,
        host: '127.0.0.1',
        port: 0,
        token,
        machine: { systemId: agentId, hostname, devices: [device] },
        profiles: loadProfiles(),
        publicKeyPem: keys.publicKeyPem,
        kernel: 'auto',
        stateDir: join(work, 'state'),
        logLevel: 'silent',
        interfaces: { netns: topo!.hostNetns, wire: (_iface, n) => sendAtWire(wireNs, topo!.ports[0].hostAddress, n) },
      });
      expect(agent.mode).toBe('kernel');
      const client = new AgentClient(agent.url, token);
      const inv = await client.inventory();
      expect(inv.interfaces?.find((i) => i.name === 'ens1f0')).toMatchObject({ name: 'ens1f0', driver: 'veth', kind: 'veth' });

      // A plan naming a netdev this host does not have: refused with the name, nothing attached.
      const bad = await client
        .load(device.id, signedLoadBody('host-xdp-native', stages, keys.privateKeyPem, 0, { hook: 'xdp-native', interface: 'ens9f9' }))
        .catch((e: unknown) => e);
      expect(bad).toBeInstanceOf(AgentError);
      expect(bad).toMatchObject({ status: 422, code: 'unknown_interface', field: 'interface' });
      expect((bad as Error).message).toContain('ens9f9');

      const loaded = await client.load(
        device.id,
        signedLoadBody('host-xdp-native', stages, keys.privateKeyPem, 0, { hook: 'xdp-native', interface: 'ens1f0' }),
      );
      expect(loaded.current.mechanism).toBe('tail-call');
      // From outside the agent: ip shows the chain's root attached to ens1f0 in the machine's namespace.
      const link = JSON.parse(
        (await runProcess('/usr/sbin/ip', ['-n', topo!.hostNetns, '-j', 'link', 'show', 'ens1f0'], { env: ENV })).stdout,
      ) as { xdp?: { prog?: { id: number } } }[];
      expect(link[0].xdp?.prog?.id).toBe(loaded.current.rootProgId);

      const before = await client.counters(device.id);
      const probe = await client.probe(device.id, 0, 40);
      expect(probe.sent).toBe(40);
      const after = await client.counters(device.id);
      // The hook's chain counters (not RX counters, not time): both modules saw every probe packet, in slot order.
      for (const [i, m] of after.modules.entries()) {
        expect(m.source).toBe('chain');
        expect(m.packets - before.modules[i].packets).toBeGreaterThanOrEqual(40);
      }
      expect(rows(after).map((r) => r.module)).toEqual(['stage0', 'stage1']);

      // A NIC stage whose program drops the probe: loaded by the same kernel driver, acting on the stage's
      // namespace as an emulated NIC's hardware would; its own chain counters show the drops, and the host
      // chain behind it counts nothing.
      const nic = topo!.ports[0].hops[1];
      const stageDevice: Device = { ...device, id: `${agentId}/nic0`, name: 'nic0', interfaces: [nic.ingress] };
      const stageDriver = await hopXdpDriver({
        agentId: `${agentId}-nic`,
        device: stageDevice,
        deviceIndex: 1,
        stateDir: join(work, 'nic-state'),
        host: { netns: nic.netns },
      });
      const dropper = await dropUdpModule(work);
      await stageDriver.load({ port: 0, target: 'host-xdp-generic', hook: 'xdp-generic', modules: [dropper] });
      const mid = await client.counters(device.id);
      const stageBefore = await stageDriver.counters();
      await client.probe(device.id, 0, 30);
      const blocked = await client.counters(device.id);
      const stageAfter = await stageDriver.counters();
      expect(blocked.modules.map((m, i) => m.packets - mid.modules[i].packets)).toEqual([0, 0]);
      const d = stageAfter.modules[0];
      expect({
        module: d.module,
        source: d.source,
        packets: d.packets - (stageBefore.modules[0]?.packets ?? 0),
        drops: d.drops - (stageBefore.modules[0]?.drops ?? 0),
      }).toEqual({ module: 'udp-drop', source: 'chain', packets: 30, drops: 30 });
      await stageDriver.detach(0);
    },
    180_000,
  );

  itKernel(
    'an emulated SmartNIC runs the XDP its offload verifier accepted in its NIC stage: ip shows it there, probes from the wire are counted by its chain',
    async () => {
      expect(topo).toBeDefined();
      const nic = topo!.ports[0].hops[1];
      // No global data (nfp refuses .rodata's map flags): the UDP dropper; it drops the wire probe, counted as such.
      const dropper = await dropUdpModule(work);
      const profile = loadProfiles().find((p) => p.id === 'netronome-agilio-cx-bpf-2.1')!;
      const card: Device = {
        ...device,
        id: `${agentId}/nfp0`,
        kind: 'smartnic',
        name: 'nfp0',
        interfaces: ['ens1f0'],
        profileId: profile.id,
      };
      const driver = stagedNic({
        device: card,
        profile,
        stage: {
          netns: nic.netns,
          netdevs: [nic.ingress],
          agentId: `${agentId}-nfp`,
          stateDir: join(work, 'nfp-state'),
          wire: (_p, n) => sendAtWire(topo!.ports[0].hops[0].netns, topo!.ports[0].hostAddress, n),
        },
      });
      const r = await driver.load({ port: 0, target: 'nic-xdp-offload', modules: [dropper] });
      expect(r.current.mode).toBe('offload');
      const link = JSON.parse(
        (await runProcess('/usr/sbin/ip', ['-n', nic.netns, '-j', 'link', 'show', nic.ingress], { env: ENV })).stdout,
      ) as { xdp?: { prog?: { id: number } } }[];
      expect(link[0].xdp?.prog?.id).toBeGreaterThan(0);
      const before = (await driver.counters()).modules[0];
      expect((await driver.probe(0, 25)).sent).toBe(25);
      const after = (await driver.counters()).modules[0];
      expect({
        module: after.module,
        source: after.source,
        counted: after.packets - before.packets,
        dropped: after.drops - before.drops,
      }).toEqual({ module: 'udp-drop', source: 'chain', counted: 25, dropped: 25 });
      // Its test vectors run on the program the stage runs (the one `ip -n` shows there), in the stage's namespace, not on a copy.
      const udp = (dstPort: number) =>
        Buffer.from(
          packetHex({
            name: 'udp',
            input: { fields: { ipSrc: '192.0.2.10', ipDst: '192.0.2.1', proto: 'udp', srcPort: 40000, dstPort } },
            expect: { verdict: 'XDP_PASS' },
          } as never),
          'hex',
        );
      const vectors = await driver.runVectors(0, [
        { name: 'udp/9 dropped', packet: udp(9), expectVerdict: 'XDP_DROP' },
        { name: 'udp/53 passes', packet: udp(53), expectVerdict: 'XDP_PASS' },
      ]);
      expect(vectors.map((v) => ({ passed: v.passed, emulated: v.emulated, deployed: v.deployed }))).toEqual(
        [0, 1].map(() => ({
          passed: true,
          emulated: false,
          deployed: { rootProgId: link[0].xdp!.prog!.id, slot: 0, progId: vectors[0].deployed!.progId, outputCompared: false },
        })),
      );
      // Slot 0 of the root the stage's netdev runs: the module's chain entry, a program apart from the root.
      const ran = JSON.parse(
        (await runProcess(findBpftool()!, ['prog', 'show', 'id', String(vectors[0].deployed!.progId), '-j'], { env: ENV })).stdout,
      ) as { name: string };
      expect({ name: ran.name, root: vectors[0].deployed!.progId === link[0].xdp!.prog!.id }).toEqual({
        name: 'iop_chain_entry',
        root: false,
      });
      // Rolled back (nothing before it): the stage runs nothing again.
      await driver.detach(0);
      const gone = JSON.parse(
        (await runProcess('/usr/sbin/ip', ['-n', nic.netns, '-j', 'link', 'show', nic.ingress], { env: ENV })).stdout,
      ) as { xdp?: unknown }[];
      expect(gone[0].xdp).toBeUndefined();
    },
    120_000,
  );

  itKernel(
    'a host chain on generic XDP behind the NIC stage and behind the DPU counts every probe from the wire (stages forward unmarked skbs)',
    async () => {
      expect(topo).toBeDefined();
      expect(agent).toBeDefined();
      // tc mirred marks what it redirects and generic XDP passes marked skbs unseen: the stages must not forward that way.
      const client = new AgentClient(agent!.url, token);
      await client.detach(device.id, 0);
      const loaded = await client.load(
        device.id,
        signedLoadBody('host-xdp-generic', stages, keys.privateKeyPem, 0, { hook: 'xdp-generic', interface: 'ens1f0' }),
      );
      expect(loaded.current.mode).toBe('generic');
      const before = await client.counters(device.id);
      expect((await client.probe(device.id, 0, 40)).sent).toBe(40);
      const after = await client.counters(device.id);
      expect(after.modules.map((m, i) => m.packets - before.modules[i].packets)).toEqual([40, 40]);
      await client.detach(device.id, 0);

      const dpuPort = topo!.ports[1];
      const behindDpu: Device = { ...device, id: `${agentId}/ens2f0np0`, name: 'ens2f0np0', interfaces: ['ens2f0np0'] };
      const generic = await hopXdpDriver({
        agentId,
        device: behindDpu,
        deviceIndex: 2,
        stateDir: join(work, 'dpu-host-state'),
        host: { netns: topo!.hostNetns, wire: (_iface, n) => sendAtWire(dpuPort.hops[0].netns, dpuPort.hostAddress, n) },
      });
      await generic.load({ port: 0, target: 'host-xdp-generic', hook: 'xdp-generic', modules: stages });
      const b = await generic.counters();
      await generic.probe(0, 30);
      const a = await generic.counters();
      expect(a.modules.map((m, i) => m.packets - b.modules[i].packets)).toEqual([30, 30]);
      await generic.detach(0);
    },
    120_000,
  );

  itKernel(
    'a crashed run leaves namespaces behind: the next start removes those its marker lists, and nothing else',
    async () => {
      const dead = spawnSync(process.execPath, ['-e', 'process.exit(0)']).pid!;
      const mine = `iop-${hostname}-dead`;
      const foreign = `iop-${hostname}-foreign`;
      stray.push(mine, foreign);
      for (const ns of [mine, foreign]) expect((await runProcess('/usr/sbin/ip', ['netns', 'add', ns], { env: ENV })).code).toBe(0);
      await fsp.mkdir(FLEET_MARKER_DIR, { recursive: true });
      await fsp.writeFile(
        join(FLEET_MARKER_DIR, `${mine}.json`),
        JSON.stringify({ instanceId: `gone${run}`, pid: dead, namespaces: [mine] }),
      );
      // The dead instance's agents' pins go too; another instance's stay.
      const pins = dirname(bpffsRoot('x'));
      await fsp.mkdir(join(pins, `gone${run}-m1`), { recursive: true });
      await fsp.mkdir(join(pins, `other${run}-m1`), { recursive: true });
      const removed = await removeLeftovers();
      expect(existsSync(join(pins, `gone${run}-m1`))).toBe(false);
      expect(existsSync(join(pins, `other${run}-m1`))).toBe(true);
      await fsp.rm(join(pins, `other${run}-m1`), { recursive: true });
      expect(removed).toContain(mine);
      expect(existsSync(netnsPath(mine))).toBe(false);
      expect(existsSync(netnsPath(foreign))).toBe(true);
      // This run's live machine has a marker with a live pid: untouched.
      expect(existsSync(netnsPath(topo!.hostNetns))).toBe(true);
    },
    60_000,
  );
});
