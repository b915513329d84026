import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { cardOf, device, dpuMachine, fleet, machine } from './index';

const ROOT = join(__dirname, '../../../..');

/** Every .ts file below dir, skipping dependencies and build output. */
function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) return [];
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('fleet fixtures', () => {
  it("(and every lib's testing face) are imported by specs and test code only, never by production code", () => {
    const offenders = ['apps', 'libs']
      .flatMap((d) => sources(join(ROOT, d)))
      .filter((p) => !/\.(spec|e2e-spec)\.ts$/.test(p) && !p.includes('/testing/'))
      // Any lib's test-only face: @ioplane/<lib>/testing, or a path into a src/testing folder.
      .filter((p) => /from '@ioplane\/[\w-]+\/testing'|src\/testing\//.test(readFileSync(p, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('names a card by kind or model, on its host and slot, with its ports and profile', () => {
    expect(device('nic', { machine: 'h7', slot: 2 })).toMatchObject({
      id: 'h7/ens2f0',
      kind: 'nic',
      interfaces: ['ens2f0', 'ens2f1'],
      profileId: 'intel-x710-9.20',
      dpuSystemId: null,
      linkSpeedMbps: 20_000,
    });
    expect(device('smartnic')).toMatchObject({ id: 'h1/ens1f0', kind: 'smartnic', profileId: 'mellanox-connectx-7-28.39' });
    expect(device('dpu', { slot: 3 })).toMatchObject({
      id: 'h1/ens3f0np0',
      kind: 'dpu',
      interfaces: ['ens3f0np0', 'ens3f1np1'],
      dpuSystemId: 'h1-dpu3',
    });
    expect(device('agilio-cx-bpf', { ports: 1, profileId: null })).toMatchObject({
      interfaces: ['ens1f0'],
      profileId: null,
      driver: 'nfp',
    });
    expect(device(cardOf('netronome-agilio-cx-flower-2.1'))).toMatchObject({
      kind: 'smartnic',
      profileId: 'netronome-agilio-cx-flower-2.1',
      firmwareVersion: 'flower-2.1.16.1',
    });
    expect(() => cardOf('no-such-profile')).toThrow(/no fixture card matches profile no-such-profile/);
  });

  it('gives a host the interfaces and PCI functions of its cards, the first port as its uplink', () => {
    const h = machine({ systemId: 's1', cards: ['nic', 'bluefield-3'] });
    expect(h.devices.map((d) => d.id)).toEqual(['s1/ens1f0', 's1/ens2f0np0']);
    expect(h.interfaces.map((i) => [i.name, i.subnets])).toEqual([
      ['ens1f0', ['10.0.0.0/24']],
      ['ens1f1', []],
      ['ens2f0np0', []],
      ['ens2f1np1', []],
    ]);
    expect(h.pciDevices.map((p) => [p.pciAddress, p.interfaceName])).toEqual([
      ['0000:01:00.0', 'ens1f0'],
      ['0000:01:00.1', 'ens1f1'],
      ['0000:02:00.0', 'ens2f0np0'],
      ['0000:02:00.1', 'ens2f1np1'],
    ]);
  });

  it("lists a BlueField's DPU machine after its host, a child with p0 and pf0hpf", () => {
    const f = fleet()
      .host({ cards: ['nic'] })
      .host({ cards: ['nic', 'dpu'], zone: 'zone-c' })
      .build();
    expect(f.map((m) => [m.systemId, m.hostname, m.isDpu, m.parentSystemId])).toEqual([
      ['h1', 'edge-01', false, null],
      ['h2', 'edge-02', false, null],
      ['h2-dpu2', 'edge-02-dpu0', true, 'h2'],
    ]);
    const dpu = f[2];
    expect(dpu.zone).toBe('zone-c');
    expect(dpu.interfaces.map((i) => i.name)).toEqual(['oob_net0', 'p0', 'p1', 'pf0hpf', 'pf1hpf']);
    expect(dpu.devices).toEqual([expect.objectContaining({ id: 'h2-dpu2/p0', kind: 'dpu', dpuSystemId: null })]);
    expect(() => dpuMachine(f[0], f[0].devices[0])).toThrow(/not a BlueField/);
  });
});
