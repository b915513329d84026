import { loadCatalog } from '@ioplane/modules';
import { flowTableEntries, FLOW_TABLE_MODULES } from './flow.table';

const hex = (b: Buffer): string => b.toString('hex');

describe('flowTableEntries', () => {
  it('lays each module out as a run of rules in its form order, addresses and ports in network order', () => {
    const e = flowTableEntries([
      {
        name: 'acl',
        matchAction: {
          vlan: true,
          rules: [
            { match: { proto: 'tcp', dstPort: 23 }, action: 'drop' },
            { match: { proto: 'tcp', dstPort: 80 }, action: 'pass' },
          ],
        },
      },
      { name: 'block', matchAction: { rules: [{ match: { srcIp: '203.0.113.9/24' }, action: 'drop' }] } },
    ]);
    // src, src_mask, dst, dst_mask, sport, dport, proto, flags (proto|dport), action (1 drop), pad
    expect(e.rules.map((r) => [r.key, hex(r.value)])).toEqual([
      [0, '00000000' + '00000000' + '00000000' + '00000000' + '0000' + '0017' + '06' + '05' + '01' + '00'],
      [1, '00000000' + '00000000' + '00000000' + '00000000' + '0000' + '0050' + '06' + '05' + '02' + '00'],
      // The host bits of the prefix are cleared, so the program's masked compare can match.
      [2, 'cb007100' + 'ffffff00' + '00000000' + '00000000' + '0000' + '0000' + '00' + '00' + '01' + '00'],
    ]);
    // first, count, vlan (little-endian u32s, as the program reads them)
    expect(e.modules.map((m) => [m.key, hex(m.value)])).toEqual([
      [0, '00000000' + '02000000' + '01000000' + '00000000'],
      [1, '02000000' + '01000000' + '00000000' + '00000000'],
    ]);
    expect(hex(e.meta)).toBe('0200000000000000');
  });

  it('holds every catalog form', () => {
    for (const m of loadCatalog().filter((x) => x.matchAction)) {
      expect(flowTableEntries([{ name: m.name, matchAction: m.matchAction! }]).rules).toHaveLength(m.matchAction!.rules.length);
    }
  });

  it('refuses what it cannot hold before anything is loaded, naming the rule', () => {
    expect(() => flowTableEntries([{ name: 'x', matchAction: { rules: [{ match: { dstPort: 80 }, action: 'drop' }] } }])).toThrow(
      expect.objectContaining({ code: 'bad_object', field: 'modules[0].matchAction.rules.0.match' }),
    );
    expect(() => flowTableEntries([{ name: 'x', matchAction: { rules: [{ match: { srcIp: '300.1.1.1' }, action: 'drop' }] } }])).toThrow(
      expect.objectContaining({ code: 'bad_object' }),
    );
    const many = Array.from({ length: FLOW_TABLE_MODULES + 1 }, (_, i) => ({
      name: `m${i}`,
      matchAction: { rules: [{ match: { proto: 'icmp' as const }, action: 'drop' as const }] },
    }));
    expect(() => flowTableEntries(many)).toThrow(expect.objectContaining({ code: 'slot_limit' }));
  });
});
