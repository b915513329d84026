import { loadCatalog } from '@ioplane/modules';
import type { MatchActionForm } from '@ioplane/domain';
import { DeviceError } from '../device.error';
import { flowerCommands, flowerRemoveCommands, flowerVerdict } from './flower.rules';
import { NfpXdpOffload, TcFlowerStage, type ToolRunner } from './hardware.stages';

const catalog = loadCatalog();
const withForm = catalog.filter((m) => m.matchAction);

describe('match-action forms of the catalog', () => {
  it('the ACL and the blocklist declare one', () => {
    expect(withForm.map((m) => m.name).sort()).toEqual(expect.arrayContaining(['acl-firewall', 'ddos-drop']));
  });

  // The XDP program's verdict on each vector is the vector's expectation (the kernel vector tests hold
  // every module to it); the flower rules must reach the same verdict on every well-formed packet.
  for (const m of withForm) {
    it(`${m.name}: flower rules and the XDP program agree on every well-formed vector`, () => {
      const fields = m.vectors.filter((v) => 'fields' in v.input);
      expect(fields.length).toBeGreaterThan(3);
      const got = fields.map((v) => ({ vector: v.name, verdict: flowerVerdict(m.matchAction!, (v.input as { fields: never }).fields) }));
      expect(got).toEqual(fields.map((v) => ({ vector: v.name, verdict: v.expect.verdict })));
    });
  }

  it('a form that is wrong for a module is caught by the comparison (the check can fail)', () => {
    const acl = withForm.find((m) => m.name === 'acl-firewall')!;
    const wrong: MatchActionForm = { ...acl.matchAction!, rules: acl.matchAction!.rules.filter((r) => r.match.proto !== 'icmp') };
    const icmp = acl.vectors.find((v) => v.name.startsWith('icmp'))!;
    expect(flowerVerdict(wrong, (icmp.input as { fields: never }).fields)).not.toBe(icmp.expect.verdict);
  });
});

describe('flowerCommands', () => {
  const form: MatchActionForm = {
    rules: [
      { match: { proto: 'tcp', dstPort: 23 }, action: 'drop' },
      { match: { srcIp: '203.0.113.0/24' }, action: 'pass' },
    ],
  };

  it('software path for an emulated stage: skip_hw, one priority per rule in order', () => {
    expect(flowerCommands('s0in', form, 'skip_hw', { maxRules: 8 })).toEqual([
      ['qdisc', 'replace', 'dev', 's0in', 'clsact'],
      [
        'filter',
        'add',
        'dev',
        's0in',
        'ingress',
        'prio',
        '100',
        'protocol',
        'ip',
        'flower',
        'skip_hw',
        'ip_proto',
        'tcp',
        'dst_port',
        '23',
        'action',
        'drop',
      ],
      [
        'filter',
        'add',
        'dev',
        's0in',
        'ingress',
        'prio',
        '101',
        'protocol',
        'ip',
        'flower',
        'skip_hw',
        'src_ip',
        '203.0.113.0/24',
        'action',
        'ok',
      ],
    ]);
  });

  it('VLAN-aware forms get an 802.1Q twin of each rule; the limit counts both', () => {
    const cmds = flowerCommands('ens1f0', { ...form, vlan: true }, 'skip_sw', { maxRules: 4 });
    expect(cmds[2]).toEqual([
      'filter',
      'add',
      'dev',
      'ens1f0',
      'ingress',
      'prio',
      '101',
      'protocol',
      '802.1Q',
      'flower',
      'skip_sw',
      'vlan_ethtype',
      'ip',
      'ip_proto',
      'tcp',
      'dst_port',
      '23',
      'action',
      'drop',
    ]);
    expect(() => flowerCommands('ens1f0', { ...form, vlan: true }, 'skip_sw', { maxRules: 3 })).toThrow(
      expect.objectContaining({ code: 'slot_limit', field: 'matchAction.rules' }),
    );
    expect(flowerRemoveCommands('ens1f0', { ...form, vlan: true }).map((c) => c[6])).toEqual(['100', '101', '102', '103']);
  });

  it('refuses what flower cannot express, naming the rule', () => {
    expect(() => flowerCommands('x', { rules: [{ match: { dstPort: 80 }, action: 'drop' }] }, 'skip_hw', { maxRules: 8 })).toThrow(
      expect.objectContaining({ code: 'bad_object', field: 'matchAction.rules.0.match' }),
    );
    expect(() => flowerCommands('x', { rules: [{ match: { srcIp: '300.1.1.1' }, action: 'drop' }] }, 'skip_hw', { maxRules: 8 })).toThrow(
      DeviceError,
    );
  });
});

describe('hardware stages on a real host', () => {
  const recorder = (failOn?: number) => {
    const calls: string[] = [];
    const run: ToolRunner = async (tool, args) => {
      calls.push(`${tool} ${args.join(' ')}`);
      return calls.length === failOn ? { code: 2, stderr: 'Error: TC offload is disabled on net device.' } : { code: 0, stderr: '' };
    };
    return { calls, run };
  };

  it('nfp offload: ip link set dev X xdpoffload obj ... sec ..., and off', async () => {
    const r = recorder();
    const nfp = new NfpXdpOffload(r.run);
    await nfp.attach('ens1f0np0', '/var/lib/ioplane/objects/abc.o', 'xdp');
    await nfp.detach('ens1f0np0');
    expect(r.calls).toEqual([
      'ip link set dev ens1f0np0 xdpoffload obj /var/lib/ioplane/objects/abc.o sec xdp',
      'ip link set dev ens1f0np0 xdpoffload off',
    ]);
  });

  it('tc-flower with skip_sw; a rule the hardware refuses takes back the rules already installed', async () => {
    const r = recorder(3);
    const hw = new TcFlowerStage(r.run, 'skip_sw', { maxRules: 16 });
    const form: MatchActionForm = {
      rules: [
        { match: { proto: 'udp', dstPort: 161 }, action: 'drop' },
        { match: { proto: 'icmp' }, action: 'drop' },
      ],
    };
    await expect(hw.install('ens2f0np0', form)).rejects.toMatchObject({ code: 'kernel_refused' });
    expect(r.calls).toEqual([
      'tc qdisc replace dev ens2f0np0 clsact',
      'tc filter add dev ens2f0np0 ingress prio 100 protocol ip flower skip_sw ip_proto udp dst_port 161 action drop',
      'tc filter add dev ens2f0np0 ingress prio 101 protocol ip flower skip_sw ip_proto icmp action drop',
      'tc filter del dev ens2f0np0 ingress prio 100',
      'tc filter del dev ens2f0np0 ingress prio 101',
    ]);
  });
});
