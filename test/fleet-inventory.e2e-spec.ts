import type { Device, FleetMachine } from '@ioplane/domain';
import { Harness, http, startHarness, waitJob } from './harness';

// What hardware-ids.md promises: PCI identity + firmware prefix -> profile. Written out, not computed,
// so a regression in matching cannot hide behind the code under test.
const EXPECTED_PROFILE: Array<[string, string, string, string | null]> = [
  ['19ee', '4000', 'bpf-', 'netronome-agilio-cx-bpf-2.1'],
  ['19ee', '4000', 'flower-', 'netronome-agilio-cx-flower-2.1'],
  ['19ee', '4000', 'nic-', 'netronome-agilio-cx-nic-2.1'],
  ['15b3', '101d', '22.39.', 'mellanox-connectx-6dx-22.39'],
  ['15b3', '1021', '28.39.', 'mellanox-connectx-7-28.39'],
  ['15b3', 'a2d6', '24.35.', 'nvidia-bluefield-2-24.35'],
  ['15b3', 'a2dc', '32.39.', 'nvidia-bluefield-3-32.39'],
  ['1dd8', '1002', '1.28.', 'pensando-dsc-25-1.28'],
  ['8086', '1592', '4.20 ', 'intel-e810-4.20'],
  ['8086', '1572', '9.20 ', 'intel-x710-9.20'],
  ['14e4', '16d7', '', null],
];

function expectedProfile(vendorId: string, productId: string, fw: string): string | null | undefined {
  const row = EXPECTED_PROFILE.find(([v, p, prefix]) => v === vendorId && p === productId && fw.startsWith(prefix));
  return row ? row[3] : undefined;
}

describe('fleet inventory from MAAS (simulator over HTTP, real Redis)', () => {
  let h: Harness;
  let items: FleetMachine[];

  beforeAll(async () => {
    h = await startHarness();
    const { status, body } = await http(h.apiUrl, 'POST', '/v1/fleet/sync', {});
    expect(status).toBe(202);
    const job = await waitJob(h.apiUrl, body.jobId);
    expect(job).toMatchObject({ state: 'completed', failedReason: null });
    items = (await http(h.apiUrl, 'GET', '/v1/fleet/machines?includeDpus=true')).body.items;
  });
  afterAll(() => h?.stop());

  it('lists every machine of the fleet file with its zone, pool, tags and status', () => {
    const model = h.sim.model;
    expect(items.map((m) => m.systemId).sort()).toEqual(model.machines.map((m) => m.systemId).sort());
    expect(model.hosts.length).toBeGreaterThanOrEqual(24);
    for (const want of model.machines) {
      const got = items.find((m) => m.systemId === want.systemId)!;
      expect(got).toMatchObject({ hostname: want.hostname, zone: want.zone, pool: want.pool, status: want.status, isDpu: want.isDpu });
      expect([...got.tags].sort()).toEqual([...want.tags].sort());
    }
  });

  it('matches every NIC port of every host to the profile its PCI ids and firmware call for', () => {
    let checked = 0;
    for (const host of h.sim.model.hosts) {
      const got = items.find((m) => m.systemId === host.systemId)!;
      for (const port of host.interfaces.filter((i) => i.vendorId && i.productId)) {
        const device = got.devices.find((d) => d.interfaces.includes(port.name));
        expect(device).toBeDefined();
        expect(device!.profileId).toBe(expectedProfile(port.vendorId!, port.productId!, port.firmwareVersion ?? ''));
        checked++;
      }
      // No "host CPU" device: host XDP runs on a card's netdev.
      expect(got.devices.map((d) => d.id)).not.toContain(`${host.systemId}/cpu`);
    }
    expect(checked).toBeGreaterThan(30);
  });

  it('shows an unknown NIC as unprofiled instead of failing', () => {
    const broadcom = items.flatMap((m) => m.devices).filter((d) => d.vendorId === '14e4');
    expect(broadcom.length).toBeGreaterThan(0);
    for (const d of broadcom) expect(d).toMatchObject({ profileId: null, kind: 'nic' });
  });

  it('lists each host DPU as a device linked to the DPU machine through MAAS parent', () => {
    const { hosts, dpus } = h.sim.model;
    expect(dpus.length).toBeGreaterThanOrEqual(6);
    for (const dpu of dpus) {
      const host = items.find((m) => m.systemId === dpu.parentSystemId)!;
      const linked: Device | undefined = host.devices.find((d) => d.dpuSystemId === dpu.systemId);
      expect(linked).toMatchObject({ kind: 'dpu' });
      // The card on the host is the same BlueField model as the DPU machine's own ports.
      const dpuPort = dpu.interfaces.find((i) => i.productId)!;
      expect(linked!.productId).toBe(dpuPort.productId);
      expect(hosts.find((x) => x.systemId === host.systemId)!.dpuSystemIds).toContain(dpu.systemId);
    }
  });

  it('filters by zone, pool and tag on the API and hides DPU rows unless asked', async () => {
    const all = (await http(h.apiUrl, 'GET', '/v1/fleet/machines')).body;
    expect(all.items.every((m: FleetMachine) => !m.isDpu)).toBe(true);
    expect(all.count).toBe(h.sim.model.hosts.length);
    const zone = (await http(h.apiUrl, 'GET', '/v1/fleet/machines?zone=zone-b')).body.items as FleetMachine[];
    expect(zone.map((m) => m.systemId).sort()).toEqual(
      h.sim.model.hosts
        .filter((m) => m.zone === 'zone-b')
        .map((m) => m.systemId)
        .sort(),
    );
    const pool = (await http(h.apiUrl, 'GET', '/v1/fleet/machines?pool=core')).body.items as FleetMachine[];
    expect(pool.length).toBe(h.sim.model.hosts.filter((m) => m.pool === 'core').length);
    const tag = h.sim.model.hosts.find((m) => m.tags.length)!.tags[0];
    const tagged = (await http(h.apiUrl, 'GET', `/v1/fleet/machines?tag=${tag}`)).body.items as FleetMachine[];
    expect(tagged.map((m) => m.systemId).sort()).toEqual(
      h.sim.model.hosts
        .filter((m) => m.tags.includes(tag))
        .map((m) => m.systemId)
        .sort(),
    );
  });

  it('returns one machine, 404 for an unknown one and 400 naming a bad field', async () => {
    const host = h.sim.model.hosts[0];
    expect((await http(h.apiUrl, 'GET', `/v1/fleet/machines/${host.systemId}`)).body.hostname).toBe(host.hostname);
    expect(await http(h.apiUrl, 'GET', '/v1/fleet/machines/zzzzzz')).toMatchObject({
      status: 404,
      body: { error: { code: 'not_found', field: 'systemId' } },
    });
    const bad = await http(h.apiUrl, 'GET', '/v1/fleet/machines?zone=bad%20zone');
    expect(bad).toMatchObject({ status: 400, body: { error: { code: 'validation', field: 'zone' } } });
    expect(bad.body.error.message).toMatch(/zone/);
    expect((await http(h.apiUrl, 'GET', '/v1/fleet/machines/Not_An-Id')).body.error.field).toBe('systemId');
  });

  it('rejects a bad sync request without queueing anything', async () => {
    const before = await h.redis.keys(`{${h.config.IOPLANE_PREFIX}}:fleet:*`);
    const res = await http(h.apiUrl, 'POST', '/v1/fleet/sync', { systemIds: ['A:B'] });
    expect(res).toMatchObject({ status: 400, body: { error: { code: 'validation', field: 'systemIds.0' } } });
    const unknown = await http(h.apiUrl, 'POST', '/v1/fleet/sync', { everything: true });
    expect(unknown.status).toBe(400);
    expect((await h.redis.keys(`{${h.config.IOPLANE_PREFIX}}:fleet:*`)).sort()).toEqual(before.sort());
  });
});
