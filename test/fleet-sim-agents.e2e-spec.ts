import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp, readdirSync, readlinkSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { hostXdpDeviceId, runsOwnHostXdp, type FleetMachine } from '@ioplane/domain';
import { buildModule } from '@ioplane/compiler';
import { describeKernel } from '@ioplane/compiler/testing';
import { AgentClient, agentToken, generateSigningKeys, signedLoadBody } from '@ioplane/agent-api';
import { bpffsRoot } from '@ioplane/devices';
import { buildFleet } from '@ioplane/inventory';
import { MaasClient, toMachine } from '@ioplane/maas';
import { loadCatalog } from '@ioplane/modules';
import { loadProfiles } from '@ioplane/profiles';
import {
  agentIdFor,
  buildFleetModel,
  loadFleetFile,
  SimAgentStartError,
  startMaasSimulator,
  type MaasSimulator,
} from '../apps/fleet-sim/src';

const FLEET = resolve(__dirname, '..', 'fleets', 'demo.yaml');
const keys = generateSigningKeys();
const secret = randomBytes(32).toString('hex');

const netnsList = (): string[] =>
  execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => l.split(' ')[0])
    .filter(Boolean);

/** What ioplane's inventory sync computes, read over HTTP from the simulator like the worker does. */
async function inventoryFromMaas(sim: MaasSimulator): Promise<FleetMachine[]> {
  const maas = new MaasClient({ url: sim.url, apiKey: sim.apiKey });
  const raws = await maas.listMachines();
  const machines = await Promise.all(raws.map(async (r) => toMachine(r, await maas.machineDevices(r.system_id))));
  return buildFleet(machines, loadProfiles(), new Date().toISOString());
}

const listen = (host: string, port: number): Promise<Server> =>
  new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(port, host, () => ok(s));
  });
const closeServer = (s: Server) => new Promise<void>((ok) => s.close(() => ok()));

describe('fleet-sim agents (emulated devices)', () => {
  let sim: MaasSimulator;
  let fleet: FleetMachine[];

  beforeAll(async () => {
    sim = await startMaasSimulator({
      fleetFile: FLEET,
      timeScale: 0.001,
      agents: { publicKeyPem: keys.publicKeyPem, tokenSecret: secret, port: 0, kernel: 'off', logLevel: 'silent' },
    });
    fleet = await inventoryFromMaas(sim);
  }, 60_000);

  afterAll(() => sim?.close());

  it('runs one agent per host on the management address MAAS reports, all on one port, none for DPUs', () => {
    const hosts = fleet.filter((m) => !m.isDpu);
    const dpus = fleet.filter((m) => m.isDpu);
    expect(hosts).toHaveLength(sim.model.hosts.length);
    expect(dpus.length).toBeGreaterThan(0);
    expect(sim.agentPort).toBeGreaterThan(0);
    expect(new Set(sim.agents.keys())).toEqual(new Set(hosts.map((h) => h.systemId)));
    for (const d of dpus) expect(sim.agents.has(d.systemId)).toBe(false);
    for (const h of hosts) {
      expect(h.ipAddresses[0]).toMatch(/^127\.77\.\d+\.\d+$/);
      expect(sim.agents.get(h.systemId)!.url).toBe(`http://${h.ipAddresses[0]}:${sim.agentPort}`);
    }
  });

  it("answers each host's inventory with the device ids and profiles the inventory computes from MAAS", async () => {
    const hosts = fleet.filter((m) => !m.isDpu);
    await Promise.all(
      hosts.map(async (h) => {
        const inv = await new AgentClient(`http://${h.ipAddresses[0]}:${sim.agentPort}`, agentToken(secret, h.systemId)).inventory();
        expect(inv.agentId).toBe(agentIdFor(sim.agentInstanceId!, h.systemId));
        expect(inv.hostname).toBe(h.hostname);
        expect(inv.mode).toBe('emulated');
        // The agent lists managed devices before unprofiled ones, so compare by id.
        const byId = <T extends { id: string }>(xs: T[]) => [...xs].sort((x, y) => x.id.localeCompare(y.id));
        const pick = (d: FleetMachine['devices'][number]) => ({
          id: d.id,
          kind: d.kind,
          profileId: d.profileId,
          dpuSystemId: d.dpuSystemId,
          interfaces: d.interfaces,
        });
        // A card whose firmware family has hardware hooks also has the host XDP of its netdevs as a device of its own.
        const hostXdp = (d: FleetMachine['devices'][number]) => ({
          id: hostXdpDeviceId(d.id),
          kind: 'nic',
          profileId: null,
          dpuSystemId: d.dpuSystemId,
          interfaces: d.interfaces,
        });
        const profiles = loadProfiles();
        expect(byId(inv.devices.map((d) => pick(d.device)))).toEqual(
          byId(h.devices.flatMap((d) => (runsOwnHostXdp(d.profileId, profiles) ? [pick(d)] : [pick(d), hostXdp(d)]))),
        );
      }),
    );
    // The fleet has DPUs, and each one is a device of its host's agent.
    const withDpu = hosts.filter((h) => h.devices.some((d) => d.kind === 'dpu'));
    expect(withDpu.length).toBeGreaterThan(0);
    const inv = await new AgentClient(sim.agents.get(withDpu[0].systemId)!.url, agentToken(secret, withDpu[0].systemId)).inventory();
    expect(inv.devices.find((d) => d.device.kind === 'dpu')?.driver).toBe('emulated-dpu');
  });

  it("refuses a wrong token, another host's token, and no token with 401", async () => {
    const [a, b] = sim.model.hosts;
    const url = sim.agents.get(a.systemId)!.url;
    await expect(new AgentClient(url, agentToken(`${secret}0`, a.systemId)).inventory()).rejects.toMatchObject({
      status: 401,
      code: 'unauthorized',
    });
    await expect(new AgentClient(url, agentToken(secret, b.systemId)).inventory()).rejects.toMatchObject({ status: 401 });
    expect((await fetch(`${url}/v1/inventory`)).status).toBe(401);
  });

  it('close() stops every agent and leaves no namespaces or bpffs folders of this instance', async () => {
    const instance = sim.agentInstanceId!;
    const urls = [...sim.agents.values()].map((a) => a.url);
    await sim.close();
    expect(sim.agents.size).toBe(0);
    await expect(fetch(`${urls[0]}/healthz`)).rejects.toThrow();
    expect(netnsList().filter((n) => n.startsWith(`iop-${instance}-`))).toEqual([]);
    for (const h of sim.model.hosts) expect(existsSync(bpffsRoot(agentIdFor(instance, h.systemId)))).toBe(false);
  });
});

describe('fleet-sim agents startup failure', () => {
  it('fails clearly when a host address has the port taken, and stops the agents already started', async () => {
    const probe = await listen('127.0.0.1', 0);
    const port = (probe.address() as AddressInfo).port;
    await closeServer(probe);
    const model = buildFleetModel(loadFleetFile(FLEET));
    const victim = model.hosts[5];
    const squatter = await listen(victim.ipAddress, port);
    try {
      const err = await startMaasSimulator({
        fleetFile: FLEET,
        agents: { publicKeyPem: keys.publicKeyPem, tokenSecret: secret, port, kernel: 'off', logLevel: 'silent' },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(SimAgentStartError);
      expect(err).toMatchObject({ code: 'agent_start_failed', systemId: victim.systemId });
      expect((err as Error).message).toContain(`${victim.ipAddress}:${port}`);
      // Every agent that did start was closed: its address and port are free again.
      const first = await listen(model.hosts[0].ipAddress, port);
      await closeServer(first);
    } finally {
      await closeServer(squatter);
    }
  }, 60_000);
});

describeKernel('fleet-sim agents on the real kernel', (itKernel) => {
  let sim: MaasSimulator | undefined;
  let cache: string;

  beforeAll(async () => {
    cache = await fsp.mkdtemp('/tmp/ioplane-fleet-sim-agents-');
  });
  afterAll(async () => {
    await sim?.close();
    await fsp.rm(cache, { recursive: true, force: true });
  });

  itKernel(
    "runs each host's XDP in the kernel, in the host's namespace, and close() removes namespaces and pins",
    async () => {
      if (process.getuid?.() !== 0) {
        console.warn('SKIP fleet-sim kernel agents: not root');
        return;
      }
      const m = loadCatalog().find((x) => x.name === 'flow-counter')!;
      const object = await fsp.readFile(
        (await buildModule({ name: m.name, dir: m.dir!, sources: m.sources }, { cacheDir: cache })).objectPath,
      );
      const instanceId = `k${randomBytes(3).toString('hex')}`;
      sim = await startMaasSimulator({
        fleetFile: FLEET,
        timeScale: 0.001,
        agents: { publicKeyPem: keys.publicKeyPem, tokenSecret: secret, port: 0, kernel: 'auto', instanceId, logLevel: 'silent' },
      });
      expect(sim.agentInstanceId).toBe(instanceId);
      const host = sim.model.hosts[0];
      const client = new AgentClient(sim.agents.get(host.systemId)!.url, agentToken(secret, host.systemId));
      const inv = await client.inventory();
      expect(inv.mode).toBe('kernel');
      // Host XDP runs on a card's netdevs; there is no "cpu" device.
      expect(inv.devices.map((d) => d.device.id)).not.toContain(`${host.systemId}/cpu`);
      const hostXdp = inv.devices.find((d) => d.driver === 'kernel-xdp' && d.device.interfaces.length > 0);
      expect(hostXdp).toBeDefined();

      const agentId = agentIdFor(instanceId, host.systemId);
      const netns = `iop-${instanceId}-${host.hostname}`;
      // The production entry point runs as a process of its own inside the machine's namespace, at the
      // management address MAAS reports for the machine (reached from here over the machine's mgmt0).
      const agent = sim.agents.get(host.systemId)!;
      expect(agent.pid).toEqual(expect.any(Number));
      expect(readlinkSync(`/proc/${agent.pid}/ns/net`)).toBe(`net:[${statSync(`/var/run/netns/${netns}`).ino}]`);
      const [seen] = (await inventoryFromMaas(sim)).filter((x) => x.systemId === host.systemId);
      expect(agent.url).toBe(`http://${seen.ipAddresses[0]}:${sim.agentPort}`);
      expect(seen.ipAddresses[0]).toMatch(/^10\.215\.\d+\.\d+$/);
      const pids = [...sim.agents.values()].map((a) => a.pid!);
      // The host's netdevs carry their MAAS names inside the machine's namespace; the agent inventoried them.
      const card = hostXdp!.device;
      const first = card.interfaces[0];
      expect(inv.interfaces?.map((i) => i.name)).toEqual(expect.arrayContaining(card.interfaces));
      const loaded = await client.load(
        card.id,
        signedLoadBody('host-xdp-generic', [{ name: m.name, version: m.version, program: m.program, object }], keys.privateKeyPem, 0, {
          interface: first,
        }),
      );
      expect(loaded.status).toBe('loaded');
      expect(netnsList()).toEqual(expect.arrayContaining([netns, `${netns}-wire`]));
      // Checked from outside the agent: ip shows the program on the MAAS-named netdev.
      const link = JSON.parse(execFileSync('ip', ['-n', netns, '-j', 'link', 'show', first], { encoding: 'utf8' })) as {
        xdp?: { prog?: { id: number } };
      }[];
      expect(link[0].xdp?.prog?.id).toBe(loaded.current.rootProgId);
      // Probe traffic starts at the wire and crosses the port's path into the host's netdev.
      expect((await client.probe(card.id, 0, 20)).sent).toBe(20);
      expect(existsSync(join(bpffsRoot(agentId)))).toBe(true);

      // A DPU is a machine of its own: its agent runs in the DPU's namespace, holds p0 and pf0hpf, and loads what is placed on dpu-arm-xdp there.
      const withDpu = sim.model.hosts.find((h) => h.dpuSystemIds.length)!;
      const dpuId = withDpu.dpuSystemIds[0];
      const dpuAgent = sim.agents.get(dpuId)!;
      const dpuNetns = `iop-${instanceId}-${withDpu.hostname}-dpu0`;
      expect(readlinkSync(`/proc/${dpuAgent.pid}/ns/net`)).toBe(`net:[${statSync(`/var/run/netns/${dpuNetns}`).ino}]`);
      const [dpuSeen] = (await inventoryFromMaas(sim)).filter((x) => x.systemId === dpuId);
      expect(dpuSeen.parentSystemId).toBe(withDpu.systemId);
      expect(dpuAgent.url).toBe(`http://${dpuSeen.ipAddresses[0]}:${sim.agentPort}`);
      const dpuClient = new AgentClient(dpuAgent.url, agentToken(secret, dpuId));
      const dpuInv = await dpuClient.inventory();
      expect(dpuInv.interfaces?.map((i) => i.name)).toEqual(expect.arrayContaining(['p0', 'pf0hpf']));
      const dpuDevice = dpuInv.devices.find((d) => d.device.kind === 'dpu')!;
      expect(dpuDevice.driver).toBe('emulated-dpu');
      // The host's agent does not hold the DPU.
      expect(
        (await new AgentClient(sim.agents.get(withDpu.systemId)!.url, agentToken(secret, withDpu.systemId)).inventory()).devices.map(
          (d) => d.device.id,
        ),
      ).not.toContain(dpuDevice.device.id);
      const onDpu = await dpuClient.load(
        dpuDevice.device.id,
        signedLoadBody('dpu-arm-xdp', [{ name: m.name, version: m.version, program: m.program, object }], keys.privateKeyPem, 0),
      );
      expect(onDpu.status).toBe('loaded');
      const p0 = JSON.parse(execFileSync('ip', ['-n', dpuNetns, '-j', 'link', 'show', 'p0'], { encoding: 'utf8' })) as {
        xdp?: { prog?: { id: number } };
      }[];
      expect(p0[0].xdp?.prog?.id).toBeGreaterThan(0);
      const dpuBefore = await dpuClient.counters(dpuDevice.device.id);
      expect((await dpuClient.probe(dpuDevice.device.id, 0, 20)).sent).toBe(20);
      const dpuAfter = await dpuClient.counters(dpuDevice.device.id);
      expect(dpuAfter.modules[0].packets - (dpuBefore.modules[0]?.packets ?? 0)).toBe(20);

      await sim.close();
      // Each agent went with its machine.
      expect(pids.filter((pid) => existsSync(`/proc/${pid}`))).toEqual([]);
      expect(netnsList().filter((n) => n.startsWith(`iop-${instanceId}-`))).toEqual([]);
      for (const h of sim.model.hosts) expect(existsSync(bpffsRoot(agentIdFor(instanceId, h.systemId)))).toBe(false);
      // Nor the pins of any machine's hardware stages (DPU and NIC stages pin beside their agent's folder).
      expect(readdirSync(dirname(bpffsRoot(agentIdFor(instanceId, host.systemId)))).filter((d) => d.startsWith(`${instanceId}-`))).toEqual(
        [],
      );
    },
    600_000,
  );
});
