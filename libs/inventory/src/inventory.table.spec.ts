import { fleet } from '@ioplane/domain/testing';
import { orderHostsWithDpus, renderFleetTable } from './inventory.table';

describe('fleet table', () => {
  const f = fleet()
    .host({ hostname: 'edge-b01', cards: ['bcm57414', 'bluefield-3'] })
    .host({ hostname: 'edge-a01', cards: ['agilio-cx-bpf'], architecture: 'arm64/generic', statusName: 'Ready' })
    .build();

  it('puts hosts in hostname order, each followed by its DPUs, and DPUs without a listed host last', () => {
    const [b01, dpu, a01] = f;
    const orphan = { ...dpu, systemId: 'x-dpu', hostname: 'gone-dpu0', parentSystemId: 'gone' };
    expect(orderHostsWithDpus([orphan, dpu, b01, a01]).map((m) => m.hostname)).toEqual([
      'edge-a01',
      'edge-b01',
      'edge-b01-dpu0',
      'gone-dpu0',
    ]);
  });

  it('prints one row per machine with its devices and matched profiles, a DPU card with the machine it is, aligned', () => {
    const lines = renderFleetTable(orderHostsWithDpus(f)).split('\n');
    expect(lines.map((l) => l.split(/\s{2,}/))).toEqual([
      ['HOSTNAME', 'SYSTEM_ID', 'ZONE', 'POOL', 'STATUS', 'ARCH', 'DEVICES (name:profile)'],
      ['edge-a01', 'h2', 'zone-a', 'edge', 'Ready', 'arm64', 'ens1f0:netronome-agilio-cx-bpf-2.1'],
      ['edge-b01', 'h1', 'zone-a', 'edge', 'Deployed', 'amd64', 'ens1f0:unprofiled, ens2f0np0->h1-dpu2:nvidia-bluefield-3-32.39'],
      ['', 'edge-b01-dpu0', 'h1-dpu2', 'zone-a', 'edge', 'Deployed', 'arm64', 'p0:nvidia-bluefield-3-32.39'],
    ]);
    // Every column starts at the same offset on every line.
    const col = (l: string) => l.indexOf(l.trimStart().split(/\s{2,}/)[1], l.search(/\S/) + 1);
    expect(new Set(lines.map(col)).size).toBe(1);
  });

  it('prints a dash for a machine without devices', () => {
    expect(renderFleetTable([{ ...f[0], devices: [] }]).split('\n')[1]).toMatch(/ -$/);
  });
});
