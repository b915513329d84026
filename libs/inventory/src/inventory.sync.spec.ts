import type { FleetMachine, Machine } from '@ioplane/domain';
import { fleet } from '@ioplane/domain/testing';
import type { RawMachine } from '@ioplane/maas';
import type { SeenRequest } from '@ioplane/maas/testing';
import { loadProfiles } from '@ioplane/profiles';
import hostJson from '../../maas/src/testing/machine-host.fixture.json';
import devicesJson from '../../maas/src/testing/devices-host.fixture.json';
import { buildFleet, InventorySync, SyncProgress } from './inventory.sync';
import { useMaasAndFleet } from './testing';

const profiles = loadProfiles();

/** The MAAS machine behind an inventory entry: what a sync reads before it detects devices. */
const asMaas = ({ devices: _d, agentUrl: _a, syncedAt: _s, ...m }: FleetMachine): Machine => m;

describe(buildFleet.name, () => {
  const f = fleet()
    .host({ cards: ['nic', 'agilio-cx-bpf', 'bluefield-3'] })
    .host({ cards: ['bcm57414', 'connectx-6dx', 'pensando-dsc25'], zone: 'zone-b' })
    .build();

  it('detects on every machine the cards its PCI functions form, matched to their firmware profiles, and links a BlueField to its DPU machine', () => {
    const built = buildFleet(f.map(asMaas), profiles, '2026-01-01T00:00:00.000Z', 9440);
    expect(built.map((m) => m.devices)).toEqual(f.map((m) => m.devices));
    expect(built[0].devices.map((d) => [d.name, d.kind, d.profileId, d.dpuSystemId])).toEqual([
      ['ens1f0', 'nic', 'intel-x710-9.20', null],
      ['ens2f0', 'smartnic', 'netronome-agilio-cx-bpf-2.1', null],
      ['ens3f0np0', 'dpu', 'nvidia-bluefield-3-32.39', 'h1-dpu3'],
    ]);
    // Broadcom has no profile: listed, never placed on.
    expect(built[2].devices[0]).toMatchObject({ kind: 'nic', profileId: null });
  });

  it("gives hosts an agent URL at their first address and the agent port; a DPU's agent is its host's", () => {
    const built = buildFleet(f.map(asMaas), profiles, 'T', 9440);
    expect(built.map((m) => [m.hostname, m.agentUrl, m.syncedAt])).toEqual([
      ['edge-01', 'http://127.77.1.1:9440', 'T'],
      ['edge-01-dpu0', null, 'T'],
      ['edge-02', 'http://127.77.1.2:9440', 'T'],
    ]);
    expect(buildFleet(f.map(asMaas), profiles, 'T').every((m) => m.agentUrl === null)).toBe(true);
  });
});

describe(InventorySync.name, () => {
  const f = useMaasAndFleet();
  const { repo, maas } = f;

  // The host of the MAAS fixture and a BlueField-2 DPU whose MAAS parent it is.
  const host = hostJson as unknown as RawMachine;
  const dpu = {
    ...host,
    system_id: 'dpu7q1',
    hostname: 'edge-r1-n07-dpu0',
    fqdn: 'edge-r1-n07-dpu0.maas',
    architecture: 'arm64/generic',
    parent: { system_id: host.system_id },
    ip_addresses: ['127.77.1.107'],
    tag_names: ['dpu'],
    interface_set: [],
    hardware_info: { ...host.hardware_info, system_family: 'BlueField' },
  } as unknown as RawMachine;
  const answer = (failDevicesOf: string | null) => (req: SeenRequest) => {
    if (req.path === 'machines/') return { json: [host, dpu] };
    if (req.path === `nodes/${host.system_id}/devices/`)
      return failDevicesOf === host.system_id ? { status: 500, text: 'boom' } : { json: devicesJson };
    if (req.path === `nodes/${dpu.system_id}/devices/`) return { json: [] };
    return { status: 404, text: `no such path ${req.path}` };
  };

  afterEach(() => maas.reset());

  it('reads every machine and its PCI inventory, writes one generation with the DPU as a device of its host, and reports its stages', async () => {
    maas.fallback = answer(null);
    const seen: SyncProgress[] = [];
    const res = await new InventorySync(f.client, profiles, repo, 9440).run({ onProgress: (p) => void seen.push(p) });
    expect(res).toMatchObject({ generation: 1, machines: 2, hosts: 1, dpus: 1 });
    expect(seen.filter((p) => p.stage !== 'devices')).toEqual([
      { stage: 'list', done: 0, total: 1 },
      { stage: 'list', done: 1, total: 1 },
      { stage: 'write', done: 0, total: 1 },
      { stage: 'write', done: 1, total: 1 },
    ]);
    expect(
      seen
        .filter((p) => p.stage === 'devices')
        .map((p) => `${p.done}/${p.total}`)
        .sort(),
    ).toEqual(['1/2', '2/2']);
    const stored = await repo.getMachine(host.system_id);
    expect(stored).toMatchObject({ hostname: 'edge-r1-n07', agentUrl: 'http://127.77.1.7:9440', isDpu: false });
    expect(stored!.devices.map((d) => [d.name, d.profileId, d.dpuSystemId])).toEqual([
      ['eno1', 'intel-x710-9.20', null],
      ['enp65s0np0', 'netronome-agilio-cx-bpf-2.1', null],
      ['0000:81:00.0', null, 'dpu7q1'],
    ]);
    expect(await repo.getMachine('dpu7q1')).toMatchObject({ isDpu: true, parentSystemId: host.system_id, agentUrl: null });
  });

  it('writes nothing when a read fails, so the last good inventory stays', async () => {
    const before = await repo.meta();
    maas.fallback = answer(host.system_id);
    await expect(new InventorySync(f.client, profiles, repo).run()).rejects.toThrow();
    expect(await repo.meta()).toEqual(before);
    expect((await repo.listMachines()).map((m) => m.systemId).sort()).toEqual(['dpu7q1', host.system_id].sort());
  });

  it('stops before writing when aborted', async () => {
    const before = await repo.meta();
    maas.fallback = answer(null);
    const ac = new AbortController();
    const run = new InventorySync(f.client, profiles, repo).run({
      signal: ac.signal,
      onProgress: (p) => (p.stage === 'devices' && p.done === 2 ? ac.abort() : undefined),
    });
    await expect(run).rejects.toThrow();
    expect(await repo.meta()).toEqual(before);
  });
});
