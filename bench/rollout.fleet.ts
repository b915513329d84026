import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildModule } from '@ioplane/compiler';
import { bareNic, type Device, type DeviceKind, type FirmwareProfile } from '@ioplane/domain';
import { FaultBook, KernelXdpDriver } from '@ioplane/devices';
import { DEFAULT_MODULES_DIR, loadModule } from '@ioplane/modules';
import { shippedArtifact } from '@ioplane/planning';
import type { DesiredMachine, RolloutModule, RolloutPolicy } from '@ioplane/rollout';

/** Build cache of the bench (content-addressed, so re-runs do not recompile). */
export const BENCH_CACHE_DIR = resolve(__dirname, '..', 'var', 'cache', 'bench-rollout');

/** The Agilio CX flavour every bench machine is switched to: the only one that runs nic-xdp-offload. */
export const TARGET_PROFILE = 'netronome-agilio-cx-bpf-2.1';
const START_PROFILES = ['netronome-agilio-cx-nic-2.1', 'netronome-agilio-cx-nic-2.1', 'netronome-agilio-cx-flower-2.1'];
/** Modules the Netronome offload verifier accepts (acl-firewall, l4-lb seed their maps, so ship no vectors). */
const OFFLOAD_MODULES = ['vxlan-decap', 'acl-firewall', 'l4-lb'];

/** A catalog module built with the real compiler and shaped as a rollout ships it (as the planner does: shippedArtifact). */
export async function rolloutModule(name: string): Promise<RolloutModule> {
  const manifest = loadModule(join(DEFAULT_MODULES_DIR, name));
  const art = await buildModule({ name, dir: manifest.dir!, sources: manifest.sources }, { cacheDir: BENCH_CACHE_DIR });
  const object = readFileSync(art.objectPath);
  return { ...shippedArtifact(manifest, object, { program: manifest.program, pps: manifest.traffic.pps }), object };
}

export function benchDevice(systemId: string, name: string, kind: DeviceKind, profileId: string | null): Device {
  return { ...bareNic(systemId, name, [name]), kind, linkSpeedMbps: 25_000, profileId };
}

/** The kernel XDP driver of the bench's own namespace, for `device` (no firmware profile, no faults); initialised. */
export async function benchKernelDriver(o: {
  agentId: string;
  device: Device;
  stateDir: string;
  profiles: FirmwareProfile[];
}): Promise<KernelXdpDriver> {
  const driver = new KernelXdpDriver({ ...o, deviceIndex: 0, profile: null, faults: new FaultBook() });
  await driver.init();
  return driver;
}

export interface BenchMachine {
  systemId: string;
  hostname: string;
  devices: Device[];
  want: DesiredMachine;
}

/**
 * Hosts shaped like the demo fleet's Agilio edge hosts: a host CPU and an Agilio CX that ships in
 * its NIC or flower flavour and must be flashed to the eBPF flavour (profile timings: write 2 s +
 * activate 15 s) before one offload module loads on it. One chain per machine keeps the emulator's
 * per-load cost (its offload verifier runs the real analyser, ~30 ms CPU) small beside the flash.
 */
export function benchFleet(n: number, modules: Map<string, RolloutModule>): BenchMachine[] {
  const out: BenchMachine[] = [];
  for (let i = 0; i < n; i++) {
    const systemId = `rb${i.toString(36).padStart(4, '0')}`;
    const nic = benchDevice(systemId, 'nfp0', 'smartnic', START_PROFILES[i % START_PROFILES.length]);
    const mod = modules.get(OFFLOAD_MODULES[i % OFFLOAD_MODULES.length])!;
    out.push({
      systemId,
      hostname: `bench-edge-${i.toString().padStart(4, '0')}`,
      devices: [benchDevice(systemId, 'eth0', 'nic', null), nic],
      want: {
        systemId,
        hostname: `bench-edge-${i.toString().padStart(4, '0')}`,
        flashes: [{ deviceId: nic.id, profileId: TARGET_PROFILE }],
        chains: [{ deviceId: nic.id, target: 'nic-xdp-offload', modules: [mod] }],
      },
    });
  }
  return out;
}

export async function offloadModules(): Promise<Map<string, RolloutModule>> {
  const out = new Map<string, RolloutModule>();
  for (const name of OFFLOAD_MODULES) out.set(name, await rolloutModule(name));
  return out;
}

/** Seconds the emulated Agilio spends flashing its flavour switch, unscaled (from the starting profile). */
export function nominalFlashSeconds(profiles: readonly FirmwareProfile[], profileId: string): number {
  const p = profiles.find((x) => x.id === profileId);
  if (!p) throw new Error(`no firmware profile ${profileId}`);
  return p.flash.writeSeconds + p.flash.activateSeconds;
}

export function benchPolicy(concurrency: number): RolloutPolicy {
  return { canary: 1, waves: [10, 50, 100], maxUnavailable: concurrency, failureThreshold: 0.1 };
}
