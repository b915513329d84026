import { promises as fsp, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildModule } from '@ioplane/compiler';
import { sha256Hex } from '@ioplane/agent-api';
import { EmulatedNicDriver, FaultBook } from '@ioplane/devices';
import { device as fixtureDevice } from '@ioplane/domain/testing';
import { DEFAULT_MODULES_DIR, loadModule, packetHex } from '@ioplane/modules';
import { loadProfiles } from '@ioplane/profiles';
import { firmwareImageFor } from '../firmware.image';
import type { DesiredMachine, RolloutModule } from '../machine.desired';
import type { AgentPort, FirmwareImage } from '../machine.runbook';

/**
 * The runbook specs' machine: one emulated Agilio whose plan flashes it from the nic flavour to
 * the bpf one and loads one module offloaded, driven in process (the HTTP agent adds signatures
 * and transport). One fixture, so the runbook, commit and rollback specs test the same machine.
 */
export const profiles = loadProfiles();
export const START = 'netronome-agilio-cx-nic-2.1';
export const TARGET = 'netronome-agilio-cx-bpf-2.1';

export const firmwareImage = (id: string): FirmwareImage => firmwareImageFor(profiles.find((p) => p.id === id)!);

/**
 * Builds a catalog module (vxlan-decap by default: it has vectors, so the health check runs every
 * kind of read and exercise) as a rollout ships it. Call in beforeAll; `dispose` removes its cache.
 */
export async function rolloutModule(name = 'vxlan-decap'): Promise<{ mod: RolloutModule; dispose(): Promise<void> }> {
  const cache = await fsp.mkdtemp('/tmp/ioplane-rollout-fixture-');
  const manifest = loadModule(join(DEFAULT_MODULES_DIR, name));
  const art = await buildModule({ name: manifest.name, dir: manifest.dir!, sources: manifest.sources }, { cacheDir: cache });
  const object = readFileSync(art.objectPath);
  const mod: RolloutModule = {
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
  return { mod, dispose: () => fsp.rm(cache, { recursive: true, force: true }) };
}

/** The machine's wish: flash to TARGET, then `module` offloaded on port 0. Emulated vectors do not run: `acceptNotRun` says whether that passes. */
export function wantOf(module: RolloutModule, acceptNotRun = true): DesiredMachine {
  return {
    systemId: 'm1',
    hostname: 'h1',
    flashes: [{ deviceId: 'm1/nfp0', profileId: TARGET }],
    chains: [{ deviceId: 'm1/nfp0', target: 'nic-xdp-offload', modules: [module] }],
    acceptNotRun,
  };
}

/** An agent in process over one emulated Agilio (the HTTP agent adds signatures and transport). */
export function emulatedMachine() {
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
