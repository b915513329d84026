import { promises as fsp } from 'node:fs';
import type { Device } from '@ioplane/domain';
import { device } from '@ioplane/domain/testing';
import { loadProfiles } from '@ioplane/profiles';
import { startAgent, type RunningAgent } from '../../agent/src';
import { AgentClient, generateSigningKeys } from '@ioplane/agent-api';
import { machineAgents } from './machine.agents';

const keys = generateSigningKeys();
const token = (id: string) => `machine-agents-spec-${id}-0123456789abcdef`;
// A host's unprofiled NIC and its BlueField-2, which is the DPU machine d1.
const nic = device('bcm57414', { machine: 'h1', name: 'eno1' });
const dpu = device('bluefield-2', { machine: 'h1', slot: 2, name: 'bf2', dpuSystemId: 'd1' });
let dir: string;
const running: RunningAgent[] = [];

const start = async (id: string, devices: Device[]): Promise<RunningAgent> => {
  const a = await startAgent({
    id,
    host: '127.0.0.1',
    port: 0,
    token: token(id),
    machine: { systemId: id, devices },
    profiles: loadProfiles(),
    publicKeyPem: keys.publicKeyPem,
    timeScale: 0.00001,
    kernel: 'off',
    stateDir: `${dir}/${id}-${running.length}`,
    logLevel: 'silent',
  });
  running.push(a);
  return a;
};

beforeAll(async () => {
  dir = await fsp.mkdtemp('/tmp/ioplane-machine-agents-');
});
afterAll(async () => {
  for (const a of running) await a.close();
  await fsp.rm(dir, { recursive: true, force: true });
});

describe('machineAgents: a host and its DPUs, each with its own agent', () => {
  it("sends a DPU device's calls to the DPU's agent and the rest to the host's; inventory and programs list both", async () => {
    const host = await start('h1', [nic]);
    const own = await start('d1', [dpu]);
    const agents = machineAgents(
      new AgentClient(host.url, token('h1')),
      [{ machine: { systemId: 'd1', hostname: 'edge-d1' }, url: own.url, agent: new AgentClient(own.url, token('d1')) }],
      (id) => (id === dpu.id ? 'd1' : null),
    );
    // Each device once (an agent may add host-XDP entries of its own for a card's netdevs).
    const ids = (await agents.inventory()).devices.map((d) => d.device.id);
    expect(ids.filter((id) => id === dpu.id || id === nic.id).sort()).toEqual([dpu.id, nic.id].sort());
    expect(new Set(ids).size).toBe(ids.length);
    expect(
      (await agents.programs()).devices
        .map((d) => d.deviceId)
        .filter((id) => id === dpu.id || id === nic.id)
        .sort(),
    ).toEqual([dpu.id, nic.id].sort());
    // The host's agent does not have the DPU's device: had the call gone there, it would answer 404.
    await expect(new AgentClient(host.url, token('h1')).counters(dpu.id)).rejects.toMatchObject({ status: 404 });
    expect((await agents.counters(dpu.id)).modules).toEqual([]);
    await own.close();
    running.splice(running.indexOf(own), 1);
    // A DPU whose agent is down: reads still answer with the host's devices; a change names the DPU.
    const left = (await agents.inventory()).devices.map((d) => d.device.id);
    expect(left).toContain(nic.id);
    expect(left).not.toContain(dpu.id);
    const err = await agents.detach(dpu.id, 0).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`DPU edge-d1 (d1) agent at ${own.url}`);
  });

  it("keeps a DPU device with the host's agent when that agent lists it (an embedded simulator's host agent)", async () => {
    const host = await start('h1', [nic, dpu]);
    // No DPU agent listens there: any call routed to it would fail.
    const agents = machineAgents(
      new AgentClient(host.url, token('h1')),
      [
        {
          machine: { systemId: 'd1', hostname: 'edge-d1' },
          url: 'http://127.0.0.1:9',
          agent: new AgentClient('http://127.0.0.1:9', token('d1')),
        },
      ],
      (id) => (id === dpu.id ? 'd1' : null),
    );
    expect((await agents.counters(dpu.id)).modules).toEqual([]);
    expect((await agents.inventory()).devices.map((d) => d.device.id)).toEqual(expect.arrayContaining([dpu.id, nic.id]));
  });
});
