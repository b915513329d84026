import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { buildFleetModel, FleetFileError, loadFleetFile, parseFleetFile } from './fleet-file';
import { systemIdFor } from './fleet-model';
import { STATUS } from './maas-sim.status';

const DEMO = resolve(__dirname, '../../../fleets/demo.yaml');

describe('fleets/demo.yaml', () => {
  const model = buildFleetModel(loadFleetFile(DEMO));

  it('has at least 24 hosts over 3 zones and 2 pools', () => {
    expect(model.hosts.length).toBeGreaterThanOrEqual(24);
    expect(new Set(model.hosts.map((h) => h.zone))).toEqual(new Set(['zone-a', 'zone-b', 'zone-c']));
    expect(new Set(model.hosts.map((h) => h.pool))).toEqual(new Set(['edge', 'core']));
  });

  it('mixes the NIC models the profiles cover, plus an unprofiled Broadcom', () => {
    const firmware = new Set(model.hosts.flatMap((h) => h.interfaces.map((i) => `${i.vendorId}:${i.productId}:${i.firmwareVersion}`)));
    for (const want of [
      '19ee:4000:bpf-2.1.16.1',
      '19ee:4000:flower-2.1.16.1',
      '19ee:4000:nic-2.1.16.1',
      '15b3:101d:22.39.1002',
      '15b3:1021:28.39.1002',
      '1dd8:1002:1.28.1-E-45',
      '8086:1592:4.20 0x8001778b 1.3346.0',
      '8086:1572:9.20 0x8000d95e 1.3353.0',
      '14e4:16d7:226.0.145.0',
      '15b3:a2d6:24.35.2000',
      '15b3:a2dc:32.39.1002',
    ]) {
      expect(firmware).toContain(want);
    }
  });

  it('makes at least 3 BlueField-2 and 3 BlueField-3 DPU machines, each pointing at its host', () => {
    expect(model.dpus.filter((d) => d.dpuModel === 'bluefield-2').length).toBeGreaterThanOrEqual(3);
    expect(model.dpus.filter((d) => d.dpuModel === 'bluefield-3').length).toBeGreaterThanOrEqual(3);
    for (const d of model.dpus) {
      const host = model.hosts.find((h) => h.systemId === d.parentSystemId)!;
      expect(d.hostname).toMatch(new RegExp(`^${host.hostname}-dpu\\d$`));
      expect(d.architecture).toBe('arm64/generic');
      expect(d.hardware.systemFamily).toBe('BlueField');
      expect(host.dpuSystemIds).toContain(d.systemId);
      expect(host.interfaces.some((i) => i.dpuSystemId === d.systemId && i.productId === d.interfaces[1].productId)).toBe(true);
    }
  });

  it('starts most hosts deployed, some ready and exactly one allocated', () => {
    const count = (s: number) => model.hosts.filter((h) => h.status === s).length;
    expect(count(STATUS.DEPLOYED)).toBeGreaterThan(model.hosts.length / 2);
    expect(count(STATUS.READY)).toBeGreaterThanOrEqual(2);
    expect(count(STATUS.ALLOCATED)).toBe(1);
  });

  it('gives every host a 127.77.<zone>.<n> address on its boot interface and a deterministic 6-char system_id', () => {
    const ips = new Set<string>();
    for (const h of model.hosts) {
      expect(h.ipAddress).toMatch(new RegExp(`^127\\.77\\.${h.zoneIndex}\\.\\d+$`));
      expect(h.interfaces.find((i) => i.isBoot)!.ipAddress).toBe(h.ipAddress);
      ips.add(h.ipAddress);
      expect(h.systemId).toMatch(/^[a-z0-9]{6}$/);
      expect(h.systemId).toBe(systemIdFor(h.hostname));
    }
    expect(ips.size).toBe(model.hosts.length);
    expect(new Set(model.machines.map((m) => m.systemId)).size).toBe(model.machines.length);
  });
});

describe('fleet file validation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleet-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const minimal = (host: string) => `zones: [{name: z1}]\npools: [{name: p1}]\nhosts:\n  - ${host}\n`;

  it('names the file and the field of an unknown NIC model', () => {
    const file = join(dir, 'bad-nic.yaml');
    writeFileSync(file, minimal('{hostname: h1, zone: z1, pool: p1, nics: [connectx-9]}'));
    expect(() => loadFleetFile(file)).toThrow(FleetFileError);
    try {
      loadFleetFile(file);
    } catch (e) {
      const err = e as FleetFileError;
      expect(err.code).toBe('FLEET_INVALID');
      expect(err.file).toBe(file);
      expect(err.field).toBe('hosts[0].nics[0].model');
      expect(err.message).toContain(file);
    }
  });

  it('rejects references to undeclared zones and tags', () => {
    expect(() => parseFleetFile(minimal('{hostname: h1, zone: nope, pool: p1, nics: [intel-x710]}'), 'f.yaml')).toThrow(
      /f\.yaml: hosts\[0\]\.zone: unknown zone 'nope'/,
    );
    expect(() => parseFleetFile(minimal('{hostname: h1, zone: z1, pool: p1, tags: [gpu], nics: [intel-x710]}'), 'f.yaml')).toThrow(
      /hosts\[0\]\.tags\[0\]: unknown tag 'gpu'/,
    );
  });

  it('reports unreadable files and broken YAML with their codes', () => {
    expect(() => loadFleetFile(join(dir, 'missing.yaml'))).toThrow(expect.objectContaining({ code: 'FLEET_UNREADABLE' }));
    expect(() => parseFleetFile('zones: [', 'y.yaml')).toThrow(expect.objectContaining({ code: 'FLEET_YAML', file: 'y.yaml' }));
  });

  it('honours NIC firmware overrides', () => {
    const f = parseFleetFile(minimal('{hostname: h1, zone: z1, pool: p1, nics: [{model: agilio-cx-nic, firmware: nic-2.1.15.0}]}'));
    const m = buildFleetModel(f);
    expect(m.hosts[0].interfaces.map((i) => i.firmwareVersion)).toEqual(['nic-2.1.15.0', 'nic-2.1.15.0']);
  });
});
