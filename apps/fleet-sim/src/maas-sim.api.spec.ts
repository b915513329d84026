import { resolve } from 'node:path';
import { buildOAuthHeader } from './maas-sim.auth';
import { startMaasSimulator, type MaasSimulator } from './maas-sim.server';
import { maasCall } from './maas-sim.testing';

const DEMO = resolve(__dirname, '../../../fleets/demo.yaml');
const KEY = 'ck1:tk1:sekrit';

describe('MAAS simulator: transport, auth and reads', () => {
  let sim: MaasSimulator;
  const call = (path: string, opts?: Parameters<typeof maasCall>[3]) => maasCall(sim.apiUrl, sim.apiKey, path, opts);

  beforeAll(async () => {
    sim = await startMaasSimulator({ fleetFile: DEMO, port: 0, apiKey: KEY, timeScale: 0.01 });
  });
  afterAll(() => sim.close());

  it('serves version/ anonymously', async () => {
    const r = await call('version/', { auth: null });
    expect(r.status).toBe(200);
    expect(r.json.version).toBe('3.5.4');
    expect(r.json.capabilities).toContain('networks-management');
    expect(typeof r.json.subversion).toBe('string');
    expect(sim.apiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/MAAS\/api\/2\.0\/$/);
  });

  it('answers 401 without credentials and with an unknown key', async () => {
    expect((await call('machines/', { auth: null })).status).toBe(401);
    const bad = await call('machines/', { auth: buildOAuthHeader('nope:nope:sekrit') });
    expect(bad.status).toBe(401);
    expect(bad.text).toBe('Authorization Error: Invalid API key.');
  });

  it('requires all six OAuth parameters', async () => {
    const header = buildOAuthHeader(KEY).replace(/, oauth_nonce="[^"]*"/, '');
    expect((await call('users/?op=whoami', { auth: header })).status).toBe(401);
  });

  it('answers 400 to a non-integer timestamp and 401 to a wrong signature', async () => {
    expect((await call('users/?op=whoami', { auth: buildOAuthHeader(KEY, { timestamp: '12.5' }) })).status).toBe(400);
    expect((await call('users/?op=whoami', { auth: buildOAuthHeader('ck1:tk1:wrong') })).status).toBe(401);
  });

  it('rejects a replayed nonce', async () => {
    const header = buildOAuthHeader(KEY, { nonce: 'once-only' });
    expect((await call('users/?op=whoami', { auth: header })).status).toBe(200);
    expect((await call('users/?op=whoami', { auth: header })).status).toBe(401);
  });

  it('accepts the signature raw (&secret) as well as encoded (%26secret)', async () => {
    const raw = buildOAuthHeader(KEY).replace('oauth_signature="%26sekrit"', 'oauth_signature="&sekrit"');
    expect(raw).toContain('"&sekrit"');
    const r = await call('users/?op=whoami', { auth: raw });
    expect(r.status).toBe(200);
    expect(r.json.username).toBe('admin');
  });

  it('lists every machine, hosts and DPUs, sorted by system_id, with full objects', async () => {
    const r = await call('machines/');
    expect(r.status).toBe(200);
    expect(r.json).toHaveLength(sim.store.machineCount());
    expect(r.json).toHaveLength(sim.model.hosts.length + sim.model.dpus.length);
    const ids = r.json.map((m: any) => m.system_id);
    expect(ids).toEqual([...ids].sort());
    const m = r.json[0];
    for (const field of [
      'system_id',
      'hostname',
      'fqdn',
      'domain',
      'description',
      'owner',
      'owner_data',
      'workload_annotations',
      'locked',
      'architecture',
      'cpu_count',
      'cpu_speed',
      'memory',
      'storage',
      'status',
      'status_name',
      'status_message',
      'error_description',
      'osystem',
      'distro_series',
      'power_type',
      'power_state',
      'tag_names',
      'ip_addresses',
      'interface_set',
      'boot_interface',
      'zone',
      'pool',
      'blockdevice_set',
      'physicalblockdevice_set',
      'node_type',
      'node_type_name',
      'parent',
      'hardware_info',
      'numanode_set',
      'is_dpu',
      'resource_uri',
    ]) {
      expect(m).toHaveProperty(field);
    }
    for (const field of [
      'id',
      'name',
      'type',
      'mac_address',
      'enabled',
      'vendor',
      'product',
      'firmware_version',
      'link_connected',
      'interface_speed',
      'link_speed',
      'effective_mtu',
      'numa_node',
      'sriov_max_vf',
      'params',
      'parents',
      'children',
      'tags',
      'vlan',
      'links',
      'discovered',
      'system_id',
      'resource_uri',
    ]) {
      expect(m.interface_set[0]).toHaveProperty(field);
    }
  });

  it('filters by zone, tags (all must match), not_in_zone and status', async () => {
    const zoneA = await call('machines/?zone=zone-a');
    expect(zoneA.json.length).toBeGreaterThan(0);
    expect(zoneA.json.every((m: any) => m.zone.name === 'zone-a')).toBe(true);
    expect(zoneA.json).toHaveLength(sim.model.machines.filter((m) => m.zone === 'zone-a').length);

    const both = await call('machines/?tags=smartnic&tags=canary');
    expect(both.json.map((m: any) => m.hostname).sort()).toEqual(
      sim.model.hosts
        .filter((h) => h.tags.includes('smartnic') && h.tags.includes('canary'))
        .map((h) => h.hostname)
        .sort(),
    );

    const notA = await call('machines/?not_in_zone=zone-a&not_in_zone=zone-b');
    expect(notA.json.every((m: any) => m.zone.name === 'zone-c')).toBe(true);

    const ready = await call('machines/?status=ready');
    expect(ready.json.length).toBeGreaterThan(0);
    expect(ready.json.every((m: any) => m.status === 4 && m.status_name === 'Ready')).toBe(true);

    const ids = await call(`machines/?id=${sim.model.hosts[0].systemId}&id=${sim.model.hosts[1].systemId}`);
    expect(ids.json).toHaveLength(2);
  });

  it('answers 400 with a JSON body for an unknown tag', async () => {
    const r = await call('machines/?tags=foo');
    expect(r.status).toBe(400);
    expect(r.json).toEqual({ tags: ["No such tag(s): 'foo'."] });
  });

  it('answers 404 text for an unknown machine', async () => {
    const r = await call('machines/zzzzzz/');
    expect(r.status).toBe(404);
    expect(r.text).toBe('No Machine matches the given query.');
  });

  it('shows a DPU as its own arm64 machine with a parent reference', async () => {
    const dpu = sim.model.dpus.find((d) => d.dpuModel === 'bluefield-3')!;
    const r = await call(`machines/${dpu.systemId}/`);
    expect(r.json.architecture).toBe('arm64/generic');
    expect(r.json.is_dpu).toBe(true);
    expect(r.json.hardware_info.system_family).toBe('BlueField');
    expect(r.json.parent).toEqual({
      system_id: dpu.parentSystemId,
      resource_uri: `/MAAS/api/2.0/machines/${dpu.parentSystemId}/`,
      __incomplete__: true,
    });
  });

  it('lists a host PCI inventory with the ids of hardware-ids.md', async () => {
    const host = sim.model.hosts.find((h) => h.interfaces.some((i) => i.productId === 'a2dc'))!;
    const devices = await call(`nodes/${host.systemId}/devices/`);
    expect(devices.status).toBe(200);
    const bf3 = devices.json.find((d: any) => d.product_id === 'a2dc');
    expect(bf3).toMatchObject({ vendor_id: '15b3', vendor_name: 'Mellanox Technologies', commissioning_driver: 'mlx5_core' });
    expect(bf3.pci_address).toMatch(/^0000:[0-9a-f]{2}:00\.\d$/);
    expect(bf3.physical_interface.firmware_version).toBe('32.39.1002');
    const ifaces = await call(`nodes/${host.systemId}/interfaces/`);
    expect(ifaces.json.map((i: any) => i.name)).toContain(bf3.physical_interface.name);
    const boot = ifaces.json.find((i: any) => i.links.some((l: any) => l.ip_address === host.ipAddress));
    expect(boot).toBeDefined();
  });

  it('answers 400 "Unrecognised signature" to an unknown op, also via the op- suffix', async () => {
    const id = sim.model.hosts[0].systemId;
    const r = await call(`machines/${id}/?op=foo`, { form: {} });
    expect(r.status).toBe(400);
    expect(r.text).toBe('Unrecognised signature: method=POST op=foo');
    const viaPath = await call(`machines/${id}/op-query_power_state`);
    expect(viaPath.status).toBe(200);
    expect(viaPath.json).toEqual({ state: 'on' });
  });

  it('lists zones and resource pools with the default ones MAAS always has', async () => {
    const zones = await call('zones/');
    expect(zones.json.map((z: any) => z.name)).toEqual(['default', 'zone-a', 'zone-b', 'zone-c']);
    const pools = await call('resourcepools/');
    expect(pools.json.map((p: any) => p.name)).toEqual(['default', 'edge', 'core']);
  });
});
