import { promises as fsp } from 'node:fs';
import type { Device, FirmwareProfile } from '@ioplane/domain';
import { cardOf, device as fixtureDevice } from '@ioplane/domain/testing';
import { analyzeObject, buildModule, verifyOffload } from '@ioplane/compiler';
import { loadCatalog } from '@ioplane/modules';
import { loadProfiles } from '@ioplane/profiles';
import { sha256Hex } from '@ioplane/agent-api';
import type { ChainModule } from './device.driver';
import { DeviceError } from './device.error';
import { EmulatedDpuDriver } from './emulated-dpu.driver';
import { EmulatedNicDriver } from './emulated-nic.driver';
import { factsOf } from './emulated/object.facts';
import { FaultBook } from './fault.book';

const profiles = loadProfiles();
const byId = (id: string): FirmwareProfile => profiles.find((p) => p.id === id)!;
/** The card of a profile on host m1, with one port of its own name. */
const device = (name: string, profileId: string, kind: Device['kind']): Device =>
  fixtureDevice(cardOf(profileId), { machine: 'm1', name, kind, interfaces: [name], linkSpeedMbps: 50_000, dpuSystemId: null });

let cache: string;
const mods: Record<string, ChainModule> = {};

beforeAll(async () => {
  cache = await fsp.mkdtemp('/tmp/ioplane-devices-spec-');
  for (const m of loadCatalog()) {
    const a = await buildModule({ name: m.name, dir: m.dir!, sources: m.sources }, { cacheDir: cache });
    const object = await fsp.readFile(a.objectPath);
    mods[m.name] = {
      name: m.name,
      version: m.version,
      digest: sha256Hex(object),
      program: m.program,
      persistentMaps: m.hints.persistentMaps,
      object,
      pps: 10_000,
    };
  }
}, 120_000);

afterAll(async () => {
  await fsp.rm(cache, { recursive: true, force: true });
});

function nic(faults = new FaultBook(), timeScale = 0.001) {
  const profile = byId('netronome-agilio-cx-bpf-2.1');
  return new EmulatedNicDriver({ device: device('enp65s0np0', profile.id, 'smartnic'), profile, profiles, faults, timeScale });
}

describe('emulated SmartNIC', () => {
  it('refuses a module exactly as the offload verifier does, with its reasons', async () => {
    const profile = byId('netronome-agilio-cx-bpf-2.1');
    const m = mods['flow-counter'];
    const verdict = verifyOffload(analyzeObject(m.object), m.program, profile);
    expect(verdict.acceptedTargets).not.toContain('nic-xdp-offload');
    const err = await nic()
      .load({ port: 0, target: 'nic-xdp-offload', modules: [m] })
      .catch((e: DeviceError) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect(err).toMatchObject({ code: 'offload_refused', field: 'modules[0]' });
    expect((err as DeviceError).details).toEqual(verdict.targets.find((t) => t.target === 'nic-xdp-offload')!.reasons);
  });

  it('takes what the verifier accepts, one program per port, and a repeated load is a no-op', async () => {
    const profile = byId('netronome-agilio-cx-bpf-2.1');
    const fits = Object.values(mods).filter((m) =>
      verifyOffload(analyzeObject(m.object), m.program, profile).acceptedTargets.includes('nic-xdp-offload'),
    );
    expect(fits.length).toBeGreaterThanOrEqual(1);
    const d = nic();
    const r = await d.load({ port: 0, target: 'nic-xdp-offload', modules: [fits[0]] });
    expect(r).toMatchObject({ status: 'loaded', current: { mode: 'offload' } });
    expect((await d.load({ port: 0, target: 'nic-xdp-offload', modules: [fits[0]] })).status).toBe('unchanged');
    await expect(d.load({ port: 0, target: 'nic-xdp-offload', modules: [fits[0], fits[0]] })).rejects.toMatchObject({
      code: 'slot_limit',
      field: 'modules',
    });
    await expect(d.load({ port: 2, target: 'nic-xdp-offload', modules: [fits[0]] })).rejects.toMatchObject({ code: 'port_out_of_range' });
    await expect(d.load({ port: 0, target: 'host-xdp-native', modules: [fits[0]] })).rejects.toMatchObject({
      code: 'unsupported_target',
      field: 'target',
    });
  });

  it('analyses an object once for every device loading it at once, with the facts the analyser gives', async () => {
    const m = mods['vxlan-decap'];
    const key = `${m.digest}:spec`;
    const first = factsOf(key, m.object);
    expect(factsOf(key, m.object)).toBe(first);
    expect(await first).toEqual(analyzeObject(m.object));
    const err = await nic()
      .load({
        port: 0,
        target: 'nic-xdp-offload',
        modules: [{ ...m, digest: sha256Hex(Buffer.from('not elf')), object: Buffer.from('not elf') }],
      })
      .catch((e: DeviceError) => e);
    expect(err).toMatchObject({ code: 'bad_object', field: 'modules[0].object' });
  });

  it('moves counters under traffic and reports a crashing program through vectors and drops', async () => {
    const faults = new FaultBook();
    const profile = byId('nvidia-bluefield-2-24.35');
    const d = new EmulatedDpuDriver({ device: device('bf2', profile.id, 'dpu'), profile, profiles, faults, timeScale: 0.001 });
    const m = mods['flow-counter'];
    await d.load({ port: 0, target: 'dpu-arm-xdp', modules: [m] });
    await new Promise((r) => setTimeout(r, 60));
    const c1 = (await d.counters()).modules[0];
    expect(c1.packets).toBeGreaterThan(0);
    expect(c1.drops).toBe(0);
    expect(c1.cpuNs).toBeNull(); // runs on the Arm, not the host
    faults.set(d.device.id, { healthCheckFails: { next: 1 } });
    await d.load({ port: 0, target: 'dpu-arm-xdp', modules: [{ ...m, version: '9.9.9' }] });
    const [v] = await d.runVectors(0, [{ name: 'any', packet: Buffer.alloc(64), expectVerdict: 'XDP_PASS' }]);
    expect(v).toMatchObject({ passed: false, emulated: true });
    await new Promise((r) => setTimeout(r, 60));
    expect((await d.counters()).modules[0].drops).toBeGreaterThan(0);
    const back = await d.rollback({ scope: 'program', port: 0 });
    expect(back.current?.modules[0].version).toBe(m.version);
  });
});

describe('emulated A/B firmware', () => {
  const image = (profileId: string) => ({ profileId, version: '24.35.9000', digest: sha256Hex(Buffer.from(profileId + 'v2')) });

  it('writes the inactive slot, activates and commits, with profile timings scaled', async () => {
    const profile = byId('nvidia-bluefield-2-24.35');
    const timeScale = 0.0001; // 600 s write + 180 s activate -> 78 ms
    const d = new EmulatedDpuDriver({ device: device('bf2', profile.id, 'dpu'), profile, profiles, faults: new FaultBook(), timeScale });
    const r = await d.flash(image(profile.id));
    expect(r).toMatchObject({ status: 'committed', slot: 'boot1', wrote: true });
    expect(r.firmware.activeSlot).toBe('boot1');
    const ideal = (profile.flash.writeSeconds + profile.flash.activateSeconds) * 1000 * timeScale;
    expect(r.durationMs).toBeGreaterThanOrEqual(ideal - 5);
    expect(r.durationMs).toBeLessThan(ideal + 500);
    expect((await d.flash(image(profile.id))).status).toBe('already_active');
  });

  it('falls back to the old slot when the trial boot hangs, and keeps it when the write fails', async () => {
    const faults = new FaultBook();
    const profile = byId('nvidia-bluefield-2-24.35');
    const d = new EmulatedDpuDriver({ device: device('bf2', profile.id, 'dpu'), profile, profiles, faults, timeScale: 0.00001 });
    faults.set(d.device.id, { hang: { next: 1 } });
    const hung = await d.flash(image(profile.id));
    expect(hung).toMatchObject({ status: 'fell_back', slot: 'boot1' });
    expect(hung.firmware.activeSlot).toBe('boot0');
    expect(hung.firmware.slots[1].state).toBe('bad');
    faults.set(d.device.id, { flashFails: true });
    const failed = await d.flash(image(profile.id));
    expect(failed).toMatchObject({ status: 'failed' });
    expect(failed.firmware.activeSlot).toBe('boot0');
  });

  it('stages without activating, reports the staged image, and a cancel stops the write', async () => {
    const profile = byId('nvidia-bluefield-2-24.35');
    const d = new EmulatedDpuDriver({
      device: device('bf2', profile.id, 'dpu'),
      profile,
      profiles,
      faults: new FaultBook(),
      timeScale: 0.00001,
    });
    expect((await d.flash(image(profile.id), { activate: false })).status).toBe('staged');
    expect((await d.flash(image(profile.id), { activate: false })).status).toBe('already_staged');
    const again = await d.flash(image(profile.id));
    expect(again).toMatchObject({ status: 'committed', wrote: false });
    const slow = new EmulatedDpuDriver({
      device: device('bf2', profile.id, 'dpu'),
      profile,
      profiles,
      faults: new FaultBook(),
      timeScale: 1,
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 20).unref();
    await expect(slow.flash(image(profile.id), { signal: ac.signal })).rejects.toMatchObject({ code: 'aborted' });
  });

  it('switches a Netronome card to another firmware flavour and drops its programs', async () => {
    const profile = byId('netronome-agilio-cx-nic-2.1');
    const d = new EmulatedNicDriver({
      device: device('enp65s0np0', profile.id, 'smartnic'),
      profile,
      profiles,
      faults: new FaultBook(),
      timeScale: 0.0001,
    });
    const r = await d.flash({ profileId: 'netronome-agilio-cx-bpf-2.1', version: '2.1.16', digest: sha256Hex(Buffer.from('bpf')) });
    expect(r.status).toBe('committed');
    expect(d.inventory().profileId).toBe('netronome-agilio-cx-bpf-2.1');
    await expect(d.flash({ profileId: 'intel-e810-4.20', version: '1', digest: sha256Hex(Buffer.from('x')) })).rejects.toMatchObject({
      code: 'unknown_profile',
    });
  });
});
