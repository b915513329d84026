import { promises as fsp, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModule } from '@ioplane/compiler';
import { sha256Hex } from '@ioplane/agent-api';
import { EmulatedNicDriver, FaultBook } from '@ioplane/devices';
import { device as fixtureDevice } from '@ioplane/domain/testing';
import { DEFAULT_MODULES_DIR, loadModule, packetHex } from '@ioplane/modules';
import { loadProfiles } from '@ioplane/profiles';
import { firmwareImageFor } from './firmware.image';
import type { DesiredMachine, RolloutModule } from './machine.desired';
import { AgentPort, commitMachine, runMachine } from './machine.runbook';
import { MachineRecord, newMachineRecord } from './machine.state';

const profiles = loadProfiles();
const START = 'netronome-agilio-cx-nic-2.1';
const TARGET = 'netronome-agilio-cx-bpf-2.1';
let cache: string;
let mod: RolloutModule;

beforeAll(async () => {
  cache = await fsp.mkdtemp('/tmp/ioplane-commit-spec-');
  // Has vectors, so the health check runs every kind of read and exercise.
  const manifest = loadModule(join(DEFAULT_MODULES_DIR, 'vxlan-decap'));
  const art = await buildModule({ name: manifest.name, dir: manifest.dir!, sources: manifest.sources }, { cacheDir: cache });
  const object = readFileSync(art.objectPath);
  mod = {
    name: manifest.name,
    version: manifest.version,
    digest: sha256Hex(object),
    program: manifest.program,
    persistentMaps: manifest.hints.persistentMaps,
    object,
    pps: 10_000,
    vectors: manifest.vectors.map((v) => ({
      name: v.name,
      packetHex: packetHex(v),
      expectVerdict: v.expect.verdict,
      expectOutputHex: v.expect.outputHex,
      repeat: v.repeat,
    })),
  };
}, 120_000);

afterAll(async () => {
  await fsp.rm(cache, { recursive: true, force: true });
});

/** An agent in process over one emulated Agilio (the HTTP agent adds signatures and transport). */
function machine() {
  const device = fixtureDevice('agilio-cx-nic', {
    machine: 'm1',
    name: 'nfp0',
    interfaces: ['nfp0'],
    linkSpeedMbps: 25_000,
    profileId: START,
  });
  const nic = new EmulatedNicDriver({
    device,
    profile: profiles.find((p) => p.id === START)!,
    profiles,
    faults: new FaultBook(),
    timeScale: 0.0001,
  });
  const loads: string[] = [];
  const agent: AgentPort = {
    inventory: async () => ({ agentId: 'm1', hostname: 'h1', mode: 'emulated', modeReason: null, devices: [nic.inventory()] }),
    programs: async () => ({ devices: [await nic.programs()] }),
    flash: (_d, b) =>
      nic.flash({ profileId: b.image.profileId, version: b.image.version, digest: b.image.digest }, { activate: b.activate }),
    load: (_d, b) => {
      loads.push(b.modules.map((m) => m.name).join());
      return nic.load({
        port: b.port ?? 0,
        target: b.target,
        modules: b.modules.map((m) => ({ ...m, persistentMaps: m.persistentMaps ?? [], object: Buffer.from(m.object, 'base64') })),
      });
    },
    commit: (_d, port) => nic.commit(port ?? 0),
    detach: (_d, port) => nic.detach(port ?? 0),
    rollback: (_d, b) => nic.rollback({ scope: b?.scope ?? 'program', port: b?.port ?? 0 }),
    runVectors: async (d, b) => {
      const results = await nic.runVectors(
        b.port ?? 0,
        b.vectors.map((v) => ({
          module: v.module,
          name: v.name,
          packet: Buffer.from(v.packetHex, 'hex'),
          expectVerdict: v.expectVerdict,
          repeat: v.repeat,
        })),
      );
      return { deviceId: d, passed: results.every((r) => r.passed), results };
    },
    counters: () => nic.counters(),
    probe: (_d, port, packets) => nic.probe(port ?? 0, packets ?? 50),
  };
  return { nic, agent, loads };
}

/** Takes the machine to verified, as its machine job would, with every write kept. */
async function verified(m: ReturnType<typeof machine>) {
  const want: DesiredMachine = {
    systemId: 'm1',
    hostname: 'h1',
    flashes: [{ deviceId: 'm1/nfp0', profileId: TARGET }],
    chains: [{ deviceId: 'm1/nfp0', target: 'nic-xdp-offload', modules: [mod] }],
    acceptNotRun: true,
  };
  const writes: MachineRecord[] = [];
  const save = async (r: MachineRecord) => {
    const last = writes[writes.length - 1];
    if (last && r.generation !== last.generation) throw new Error('lost');
    const next = { ...r, generation: r.generation + 1 };
    writes.push(next);
    return next;
  };
  const rec = await runMachine(newMachineRecord('m1', 'h1', 0), want, {
    agent: m.agent,
    sign: () => 'sig',
    save,
    control: async () => 'run',
    firmwareImage: (id) => firmwareImageFor(profiles.find((p) => p.id === id)!),
    probeMs: 5,
  });
  expect(rec.verifiedAt).not.toBeNull();
  return { want, rec, save, writes };
}

describe(commitMachine.name, () => {
  it('commits a port that runs exactly the placement chain', async () => {
    const m = machine();
    const v = await verified(m);
    const done = await commitMachine(v.rec, v.want, { agent: m.agent, save: v.save });
    expect(done.state).toBe('committed');
    expect((await m.nic.programs()).ports[0].current).toMatchObject({
      committed: true,
      modules: [{ name: 'vxlan-decap', digest: mod.digest }],
    });
  });

  it('refuses to commit a port that runs another chain since the health check, and rolls the machine back', async () => {
    const m = machine();
    const v = await verified(m);
    // Another rollout loads its own chain on the port between this one's check and its commit.
    const other = { ...mod, name: 'impostor', object: mod.object.toString('base64'), signature: 'sig' };
    await m.agent.load('m1/nfp0', { target: 'nic-xdp-offload', port: 0, modules: [other] });
    const commits: Array<number | undefined> = [];
    const agent: AgentPort = { ...m.agent, commit: async (d, port) => (commits.push(port), m.agent.commit(d, port)) };
    const done = await commitMachine(v.rec, v.want, { agent, save: v.save });
    expect(done).toMatchObject({
      state: 'rolled-back',
      code: 'commit',
      reason: expect.stringMatching(
        /^commit refused: m1\/nfp0 port 0 runs \[impostor@[0-9a-f]+\], this placement's chain is \[vxlan-decap@[0-9a-f]+\]/,
      ),
    });
    expect(commits).toEqual([]);
    // Nothing was made permanent; the firmware change this placement made is undone.
    expect(m.nic.inventory().profileId).toBe(START);
  });
});
