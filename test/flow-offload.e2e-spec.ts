import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { bareNic, type Device, type MatchActionForm, type PacketFields } from '@ioplane/domain';
import { buildModule, runProcess, runVectors } from '@ioplane/compiler';
import { describeKernel } from '@ioplane/compiler/testing';
import {
  bpffsRoot,
  buildTopology,
  flowTableVerdict,
  kernelHasFlower,
  loadFlowTable,
  readFlowTable,
  removeTopology,
  sendAtWire,
  type ChainModule,
  type MachineTopology,
} from '@ioplane/devices';
import { buildPacket, loadCatalog } from '@ioplane/modules';
import { loadProfiles } from '@ioplane/profiles';
import { firmwareImageFor, probeStop } from '@ioplane/rollout';
import { buildCatalogModule, buildStage, hopXdpDriver, stagedNic } from './chain-traffic.fixture';

// Every name of this run derives from `run`: namespaces, bpffs folders, work folder.
const run = randomBytes(3).toString('hex');
const hostname = `fo-${run}`;
const agentId = `foa-${run}`;
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
const catalog = loadCatalog();
const withForm = catalog.filter((m) => m.matchAction);
let work: string;
let topo: MachineTopology | undefined;

beforeAll(async () => {
  work = await fsp.mkdtemp('/tmp/ioplane-fo-');
});

afterAll(async () => {
  if (topo) await removeTopology(topo).catch(() => undefined);
  for (const id of [agentId, `${agentId}-nic`, `${agentId}-host`]) await fsp.rm(bpffsRoot(id), { recursive: true, force: true });
  await fsp.rm(work, { recursive: true, force: true });
}, 60_000);

async function catalogModule(name: string): Promise<ChainModule> {
  return (await buildCatalogModule(name, join(work, 'cache'))).module;
}

const fieldsOf = (v: { input: unknown }): PacketFields | null =>
  'fields' in (v.input as object) ? (v.input as { fields: PacketFields }).fields : null;

describeKernel('emulated flow offload carries real packets', (itKernel) => {
  for (const name of withForm.map((m) => m.name)) {
    itKernel(
      `${name}: its vectors get the same verdict from the flow table holding its form as from its XDP program`,
      async () => {
        const m = catalog.find((x) => x.name === name)!;
        const art = await buildModule({ name: m.name, dir: m.dir!, sources: m.sources }, { cacheDir: join(work, 'cache') });
        // Well-formed packets: what a flow rule can see (a truncated header is the program's own business).
        const vectors = m.vectors
          .filter((v) => fieldsOf(v))
          .map((v) => ({ name: v.name, packet: buildPacket(fieldsOf(v)!), expectVerdict: v.expect.verdict }));
        expect(vectors.length).toBeGreaterThan(3);
        const xdp = await runVectors(art.objectPath, vectors, { program: m.program, type: 'xdp', seed: m.seed, timingRepeat: 0 });
        expect(xdp.filter((r) => r.actualVerdict === 'NOT_RUN').map((r) => r.reason)).toEqual([]);
        const dir = join(bpffsRoot(agentId), `${name}-table`);
        await loadFlowTable(join(work, 'flow-obj'), dir, [{ name, matchAction: m.matchAction! }]);
        const table: string[] = [];
        for (const v of vectors) table.push(await flowTableVerdict(dir, v.packet));
        expect(vectors.map((v, i) => ({ vector: v.name, verdict: table[i] }))).toEqual(
          vectors.map((v, i) => ({ vector: v.name, verdict: xdp[i].actualVerdict })),
        );
        // Both really ran: the XDP verdicts are the manifest's, and the table counted every vector at its module.
        expect(xdp.map((r) => r.actualVerdict)).toEqual(vectors.map((v) => v.expectVerdict));
        const [counted] = (await readFlowTable(dir, [{ name, matchAction: m.matchAction! }]))!;
        expect({ packets: counted.packets, drops: counted.drops }).toEqual({
          packets: vectors.length,
          drops: table.filter((t) => t === 'XDP_DROP').length,
        });

        // The comparison can fail: a form without its last rule disagrees with the program on some vector.
        const wrong: MatchActionForm = { ...m.matchAction!, rules: m.matchAction!.rules.slice(0, -1) };
        const wrongDir = join(bpffsRoot(agentId), `${name}-wrong`);
        await loadFlowTable(join(work, 'flow-obj'), wrongDir, [{ name, matchAction: wrong }]);
        const differs: string[] = [];
        for (const [i, v] of vectors.entries())
          if ((await flowTableVerdict(wrongDir, v.packet)) !== xdp[i].actualVerdict) differs.push(v.name);
        expect(differs.length).toBeGreaterThan(0);
      },
      120_000,
    );
  }

  itKernel(
    'several flow modules on a port: first match per module, a pass goes on to the next module, a drop reaches no later module',
    async () => {
      const chain = [
        {
          name: 'a',
          matchAction: {
            rules: [
              { match: { proto: 'tcp' as const, dstPort: 80 }, action: 'pass' as const },
              { match: { proto: 'tcp' as const }, action: 'drop' as const },
              { match: { proto: 'icmp' as const }, action: 'drop' as const },
            ],
          },
        },
        {
          name: 'b',
          matchAction: {
            rules: [
              { match: { proto: 'udp' as const }, action: 'drop' as const },
              { match: { dstIp: '192.0.2.0/24' }, action: 'drop' as const },
            ],
          },
        },
      ];
      const dir = join(bpffsRoot(agentId), 'chain-table');
      await loadFlowTable(join(work, 'flow-obj'), dir, chain);
      const pkt = (f: Partial<PacketFields>) =>
        buildPacket({ ipSrc: '198.18.0.1', ipDst: '198.18.0.2', proto: 'tcp', srcPort: 40000, dstPort: 80, ...f } as PacketFields);
      const got: string[] = [];
      // tcp/80: a passes (its later tcp drop never applies), b has no rule for it; tcp/22: a drops; icmp: a drops;
      // udp: a has no rule, b drops; tcp/80 to 192.0.2.1: a passes, b drops.
      for (const f of [
        {},
        { dstPort: 22 },
        { proto: 'icmp' as const, srcPort: undefined, dstPort: undefined },
        { proto: 'udp' as const },
        { ipDst: '192.0.2.1' },
      ])
        got.push(await flowTableVerdict(dir, pkt(f)));
      expect(got).toEqual(['XDP_PASS', 'XDP_DROP', 'XDP_DROP', 'XDP_DROP', 'XDP_DROP']);
      const [a, b] = (await readFlowTable(dir, chain))!;
      expect({ a: [a.packets, a.drops, a.passed, a.ruleHits], b: [b.packets, b.drops, b.passed, b.ruleHits] }).toEqual({
        a: [5, 2, 3, [2, 1, 1]],
        b: [3, 2, 1, [1, 1]],
      });
    },
    60_000,
  );

  itKernel(
    'a flow hop on a NIC stage counts probes from the wire in the kernel; a rule that drops them fails the health check naming the hop',
    async () => {
      topo = await buildTopology({ hostname, instanceId: run, index: 213, ports: [{ interface: 'ens1f0', nicStage: true }] });
      const [wire, nic, host] = topo.ports[0].hops;
      // The Agilio's flower flavour: flow rules on its eSwitch, and a flash to its bpf flavour (which has none) later.
      const profile = loadProfiles().find((p) => p.id === 'netronome-agilio-cx-flower-2.1')!;
      expect(profile.targets).toContain('nic-flow-offload');
      const card: Device = { ...bareNic(agentId, 'nic0', ['ens1f0']), kind: 'smartnic', profileId: profile.id };
      const driver = stagedNic({
        device: card,
        profile,
        firmwareDir: join(work, 'firmware'),
        stage: {
          netns: nic.netns,
          netdevs: [nic.ingress],
          agentId: `${agentId}-nic`,
          stateDir: join(work, 'nic-state'),
          wire: (_p, n) => sendAtWire(wire.netns, topo!.ports[0].hostAddress, n),
        },
      });
      // The host's own hop behind the stage: a chain on generic XDP of ens1f0, counted by its chain map.
      const hostDevice: Device = { ...card, id: `${agentId}/ens1f0`, kind: 'nic', name: 'ens1f0', profileId: null };
      const hostDriver = await hopXdpDriver({
        agentId: `${agentId}-host`,
        device: hostDevice,
        deviceIndex: 0,
        stateDir: join(work, 'host-state'),
        host: { netns: host.netns },
      });
      try {
        await hostDriver.load({
          port: 0,
          target: 'host-xdp-generic',
          hook: 'xdp-generic',
          modules: [await buildStage(work, join(work, 'cache'), 0, 1)],
        });
        // Probed at start (a flower filter tried on a throwaway veth in the stage's namespace) and reported in the inventory.
        await driver.init();
        const engine = (await kernelHasFlower(nic.netns)) ? 'flower' : 'bpf-flow-table';
        expect(driver.inventory().flowEngine).toBe(engine);
        const acl = await catalogModule('acl-firewall');
        await driver.load({ port: 0, target: 'nic-flow-offload', modules: [acl] });
        expect((await driver.programs()).ports[0].flowEngine).toBe(engine);
        // Checked from outside the agent, with tc itself.
        const shown = JSON.parse(
          (await runProcess('/usr/sbin/tc', ['-n', nic.netns, '-j', 'filter', 'show', 'dev', nic.ingress, 'ingress'], { env: ENV })).stdout,
        ) as { kind?: string }[];
        expect(shown.map((f) => f.kind)).toContain(engine === 'flower' ? 'flower' : 'bpf');

        const probe = async (n: number) => {
          const [b, hb] = [(await driver.counters()).modules[0], (await hostDriver.counters()).modules[0]];
          expect((await driver.probe(0, n)).sent).toBe(n);
          const [a, ha] = [(await driver.counters()).modules[0], (await hostDriver.counters()).modules[0]];
          return {
            flow: { module: a.module, source: a.source, packets: a.packets - b.packets, drops: a.drops - b.drops },
            host: { module: ha.module, packets: ha.packets - hb.packets },
          };
        };
        expect(await probe(30)).toEqual({
          flow: { module: 'acl-firewall', source: engine === 'flower' ? 'flower' : 'flow-table', packets: 30, drops: 0 },
          host: { module: 'stage0', packets: 30 },
        });

        // The same module with a form that drops the probe (UDP to port 9): the stage stops it, the host sees none.
        const dropping = {
          ...acl,
          matchAction: { rules: [{ match: { proto: 'udp' as const, dstPort: 9 }, action: 'drop' as const }] },
          version: '1.0.1',
        };
        await driver.load({ port: 0, target: 'nic-flow-offload', modules: [dropping] });
        const seen = await probe(30);
        expect(seen).toEqual({
          flow: { module: 'acl-firewall', source: engine === 'flower' ? 'flower' : 'flow-table', packets: 30, drops: 30 },
          host: { module: 'stage0', packets: 0 },
        });
        const stop = probeStop([
          {
            chain: { deviceId: card.id, target: 'nic-flow-offload', interface: 'ens1f0', modules: [] },
            module: 'acl-firewall',
            packets: seen.flow.packets,
            source: seen.flow.source,
          },
          {
            chain: { deviceId: hostDevice.id, target: 'host-xdp-generic', interface: 'ens1f0', modules: [] },
            module: 'stage0',
            packets: seen.host.packets,
            source: 'chain',
          },
        ]);
        expect(stop).toContain(
          `stop after acl-firewall (nic-flow-offload on ${card.id} at ens1f0) counted 30: stage0 (host-xdp-generic on ${hostDevice.id} at ens1f0) counted none`,
        );

        // Rolled back to the passing form, the probe reaches the host again; detached, no filter of ours stays.
        await driver.rollback({ scope: 'program', port: 0 });
        expect((await probe(10)).host.packets).toBe(10);
        const probe0 = async (n: number) => {
          const hb = (await hostDriver.counters()).modules[0];
          expect((await driver.probe(0, n)).sent).toBe(n);
          return { host: (await hostDriver.counters()).modules[0].packets - hb.packets };
        };
        const ours = async () =>
          (
            JSON.parse(
              (await runProcess('/usr/sbin/tc', ['-n', nic.netns, '-j', 'filter', 'show', 'dev', nic.ingress, 'ingress'], { env: ENV }))
                .stdout || '[]',
            ) as { kind?: string }[]
          ).filter((f) => f.kind === 'bpf' || f.kind === 'flower');
        await driver.detach(0);
        expect(await ours()).toEqual([]);
        // New firmware reloads the card: rules loaded before the flash do not stay on the wire's path.
        await driver.load({ port: 0, target: 'nic-flow-offload', modules: [dropping] });
        expect((await ours()).length).toBeGreaterThan(0);
        const bpf = loadProfiles().find((p) => p.id === 'netronome-agilio-cx-bpf-2.1')!;
        expect((await driver.flash(firmwareImageFor(bpf), { activate: true })).status).not.toBe('failed');
        expect(driver.inventory().profileId).toBe(bpf.id);
        expect((await driver.counters()).modules).toEqual([]);
        expect(await ours()).toEqual([]);
        expect((await probe0(10)).host).toBe(10);
      } finally {
        await driver.detach(0).catch(() => undefined);
        await hostDriver.detach(0).catch(() => undefined);
        await hostDriver.close();
      }
    },
    180_000,
  );
});
