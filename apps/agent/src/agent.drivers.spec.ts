import { promises as fsp } from 'node:fs';
import { device } from '@ioplane/domain/testing';
import { buildModule } from '@ioplane/compiler';
import { sha256Hex } from '@ioplane/agent-api';
import { FaultBook } from '@ioplane/devices';
import { hostXdpDeviceId } from '@ioplane/domain';
import { loadCatalog } from '@ioplane/modules';
import { loadProfiles } from '@ioplane/profiles';
import { createDrivers, type DriverSet } from './agent.drivers';

// Without a kernel: a ConnectX-6 Dx (flow offload, driver XDP), a BlueField-2 the host's agent runs, an X710 (host XDP only).
const cx6 = device('connectx-6dx', { machine: 'm9', slot: 1 });
const bf2 = device('bluefield-2', { machine: 'm9', slot: 2, dpuSystemId: null });
const x710 = device('intel-x710', { machine: 'm9', slot: 3 });
let dir: string;
let set: DriverSet;
let object: Buffer;

beforeAll(async () => {
  dir = await fsp.mkdtemp('/tmp/ioplane-drivers-spec-');
  set = await createDrivers({
    agentId: 'm9',
    devices: [cx6, bf2, x710],
    profiles: loadProfiles(),
    faults: new FaultBook(),
    timeScale: 0.0001,
    kernel: 'off',
    stateDir: dir,
  });
  const m = loadCatalog().find((x) => x.name === 'flow-counter')!;
  object = await fsp.readFile(
    (await buildModule({ name: m.name, dir: m.dir!, sources: m.sources }, { cacheDir: `${dir}/cache` })).objectPath,
  );
}, 60_000);

afterAll(async () => {
  for (const d of set.drivers.values()) await d.close();
  await fsp.rm(dir, { recursive: true, force: true });
});

const inv = (id: string) => set.drivers.get(id)!.inventory();

describe('host XDP of a card with hardware hooks', () => {
  it("the card's host-XDP device offers the modes its driver has: native where the family lists it, generic always", () => {
    expect(inv(hostXdpDeviceId(cx6.id))).toMatchObject({
      targets: ['host-xdp-native', 'host-xdp-generic'],
      hookSlots: { 'xdp-native': 10, 'xdp-generic': 10 },
    });
    expect(inv(hostXdpDeviceId(bf2.id))).toMatchObject({ targets: ['host-xdp-generic'], hookSlots: { 'xdp-generic': 10 } });
    expect(inv(hostXdpDeviceId(bf2.id)).hookSlots).not.toHaveProperty('xdp-native');
  });

  it("the card's own emulated driver keeps only its hardware hooks and refuses a host XDP load", async () => {
    expect(inv(cx6.id)).toMatchObject({ targets: ['nic-flow-offload'], hookSlots: {} });
    expect(inv(bf2.id)).toMatchObject({ targets: ['dpu-arm-xdp', 'dpu-flow-offload'], hookSlots: { 'dpu-xdp': 10 } });
    const modules = [{ name: 'flow-counter', version: '1', digest: sha256Hex(object), program: 'xdp', persistentMaps: [], object }];
    await expect(set.drivers.get(cx6.id)!.load({ port: 0, target: 'host-xdp-native', modules })).rejects.toMatchObject({
      code: 'unsupported_target',
      message: expect.stringContaining('runs in another device'),
    });
    await expect(set.drivers.get(hostXdpDeviceId(cx6.id))!.load({ port: 0, target: 'host-xdp-native', modules })).resolves.toMatchObject({
      status: 'loaded',
    });
  });

  it('a host-XDP-only card emulated without a kernel keeps its host hooks, with no second device', () => {
    expect(inv(x710.id)).toMatchObject({
      targets: ['host-xdp-native', 'host-xdp-generic'],
      hookSlots: { 'xdp-native': 10, 'xdp-generic': 10 },
    });
    expect(set.drivers.has(hostXdpDeviceId(x710.id))).toBe(false);
  });
});
