import type { MatchActionForm, MatchActionRule, PacketFields, XdpAction } from '@ioplane/domain';
import { DeviceError } from '../device.error';

/** Which path of tc the rules may use: hardware only (a real eSwitch) or software only (an emulated stage). */
export type FlowerPath = 'skip_sw' | 'skip_hw';

/** The profile's bounds on a flow table. */
export interface FlowLimits {
  maxRules: number;
}

/** Priorities the rules take, from here up; a stage's forwarding rule sits far below. */
export const FLOWER_BASE_PRIO = 100;

const CIDR = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\/(3[0-2]|[12]?\d))?$/;

function matchArgs(m: MatchActionRule['match'], i: number): string[] {
  const a: string[] = [];
  if (m.proto) a.push('ip_proto', m.proto);
  for (const [key, v] of [
    ['src_ip', m.srcIp],
    ['dst_ip', m.dstIp],
  ] as const) {
    if (v === undefined) continue;
    if (!CIDR.test(v)) throw new DeviceError('bad_object', `rule ${i}: ${key} ${v} is not an IPv4 prefix`, `matchAction.rules.${i}.match`);
    a.push(key, v);
  }
  for (const [key, v] of [
    ['src_port', m.srcPort],
    ['dst_port', m.dstPort],
  ] as const) {
    if (v === undefined) continue;
    // flower matches ports only under an L4 protocol that has them.
    if (m.proto !== 'tcp' && m.proto !== 'udp')
      throw new DeviceError('bad_object', `rule ${i}: ${key} needs proto tcp or udp`, `matchAction.rules.${i}.match`);
    a.push(key, String(v));
  }
  return a;
}

/**
 * The tc argv (after `tc`) that installs a match-action form as flower filters at ingress of
 * `dev`, one rule per priority in order, each on the path given (skip_sw: hardware; skip_hw: the
 * kernel's software classifier). A VLAN-aware form gets a second rule per entry for 802.1Q
 * frames. Refused past the profile's rule limit, before anything is installed.
 */
export function flowerCommands(dev: string, form: MatchActionForm, path: FlowerPath, limits: FlowLimits): string[][] {
  const perRule = form.vlan ? 2 : 1;
  const count = form.rules.length * perRule;
  if (count > limits.maxRules)
    throw new DeviceError('slot_limit', `${count} flower rules exceed the profile's ${limits.maxRules}`, 'matchAction.rules');
  const cmds: string[][] = [['qdisc', 'replace', 'dev', dev, 'clsact']];
  let prio = FLOWER_BASE_PRIO;
  for (const [i, r] of form.rules.entries()) {
    const keys = matchArgs(r.match, i);
    // `pass` must still stop later rules from matching: ok ends classification, like the program's verdict.
    const action = r.action === 'drop' ? ['action', 'drop'] : ['action', 'ok'];
    cmds.push(['filter', 'add', 'dev', dev, 'ingress', 'prio', String(prio++), 'protocol', 'ip', 'flower', path, ...keys, ...action]);
    if (form.vlan)
      cmds.push([
        'filter',
        'add',
        'dev',
        dev,
        'ingress',
        'prio',
        String(prio++),
        'protocol',
        '802.1Q',
        'flower',
        path,
        'vlan_ethtype',
        'ip',
        ...keys,
        ...action,
      ]);
  }
  return cmds;
}

/** The tc argv that removes every rule flowerCommands put on `dev` (the clsact qdisc stays for the stage's forwarding). */
export function flowerRemoveCommands(dev: string, form: MatchActionForm): string[][] {
  const n = form.rules.length * (form.vlan ? 2 : 1);
  return Array.from({ length: n }, (_, k) => ['filter', 'del', 'dev', dev, 'ingress', 'prio', String(FLOWER_BASE_PRIO + k)]);
}

function ipv4(s: string): number {
  return s.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function inPrefix(addr: string, prefix: string): boolean {
  const [net, len = '32'] = prefix.split('/');
  const bits = Number(len);
  if (bits === 0) return true;
  const mask = bits === 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
  return (ipv4(addr) & mask) >>> 0 === (ipv4(net) & mask) >>> 0;
}

/**
 * What flower does with a well-formed packet under these rules: first match in priority order,
 * else pass. The reference the translation is compared with against a module's own vectors.
 */
export function flowerVerdict(form: MatchActionForm, p: PacketFields): XdpAction {
  if (p.vlan !== undefined && !form.vlan) return 'XDP_PASS';
  const proto = typeof p.proto === 'number' ? ({ 6: 'tcp', 17: 'udp', 1: 'icmp' } as Record<number, string>)[p.proto] : p.proto;
  for (const r of form.rules) {
    const m = r.match;
    if (m.proto && m.proto !== proto) continue;
    if (m.srcIp && !inPrefix(p.ipSrc, m.srcIp)) continue;
    if (m.dstIp && !inPrefix(p.ipDst, m.dstIp)) continue;
    if (m.srcPort !== undefined && m.srcPort !== p.srcPort) continue;
    if (m.dstPort !== undefined && m.dstPort !== p.dstPort) continue;
    return r.action === 'drop' ? 'XDP_DROP' : 'XDP_PASS';
  }
  return 'XDP_PASS';
}
