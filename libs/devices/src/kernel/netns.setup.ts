import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { runProcess } from '@ioplane/compiler';
import { DeviceError } from '../device.error';
import type { PortInterface } from '../device.driver';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

export async function ip(args: string[], allowFail = false): Promise<string> {
  const r = await runProcess(IP, args, { timeoutMs: 20_000, env: ENV });
  if (r.code !== 0 && !allowFail) throw new DeviceError('kernel_failed', `ip ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.code === 0 ? r.stdout : '';
}

export function netnsPath(name: string): string {
  return `/var/run/netns/${name}`;
}

/** Linux keeps interface names to 15 bytes. */
export const IFNAMSIZ_MAX = 15;

/**
 * The netdev name that stands for a MAAS interface name: itself when Linux can hold it (always
 * so on a real host, whose kernel named it), else a deterministic short form (prefix + hash),
 * which the simulator reports in its interface map.
 */
export function linuxName(maasName: string): string {
  if (maasName.length <= IFNAMSIZ_MAX && /^[A-Za-z0-9._-]+$/.test(maasName)) return maasName;
  const h = createHash('sha256').update(maasName).digest('hex').slice(0, 6);
  return `${maasName.replace(/[^A-Za-z0-9]/g, '').slice(0, 8)}x${h}`;
}

/** Names of one machine: a namespace per agent, interfaces at most 15 characters. */
export function machineNames(agentId: string): { netns: string; peerNetns: string } {
  const safe = agentId
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40);
  return { netns: `iop-${safe}`, peerNetns: `iop-${safe}-peer` };
}

export function portInterface(agentId: string, deviceIndex: number, deviceId: string, port: number): PortInterface {
  const { netns, peerNetns } = machineNames(agentId);
  const h = createHash('sha256').update(deviceId).digest('hex').slice(0, 6);
  const subnet = (deviceIndex * 8 + port) % 250;
  return {
    name: `x${h}p${port}`,
    netns,
    address: `10.213.${subnet}.1`,
    peerName: `y${h}p${port}`,
    peerNetns,
    peerAddress: `10.213.${subnet}.2`,
  };
}

export async function ensureNetns(name: string): Promise<void> {
  if (existsSync(netnsPath(name))) return;
  await ip(['netns', 'add', name], true);
  if (!existsSync(netnsPath(name))) throw new DeviceError('kernel_failed', `could not create network namespace ${name}`);
  await ip(['-n', name, 'link', 'set', 'lo', 'up']);
  // IPv6 autoconfiguration would add router solicitations to what the programs see.
  await runProcess(
    IP,
    ['netns', 'exec', name, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1'],
    { timeoutMs: 10_000, env: ENV },
  );
}

/**
 * The machine's namespace with one veth pair per port: the programs attach to `name` inside
 * `netns`; the peer sits in a second namespace so traffic can be sent without touching the host.
 */
export async function ensureInterface(i: PortInterface): Promise<void> {
  await ensureNetns(i.netns);
  await ensureNetns(i.peerNetns);
  const exists = (await ip(['-n', i.netns, '-j', 'link', 'show', 'dev', i.name], true)).trim() !== '';
  if (!exists) {
    await ip(['-n', i.netns, 'link', 'add', i.name, 'type', 'veth', 'peer', 'name', i.peerName, 'netns', i.peerNetns]);
    await ip(['-n', i.netns, 'addr', 'add', `${i.address}/30`, 'dev', i.name]);
    await ip(['-n', i.peerNetns, 'addr', 'add', `${i.peerAddress}/30`, 'dev', i.peerName]);
  }
  await ip(['-n', i.netns, 'link', 'set', i.name, 'up']);
  await ip(['-n', i.peerNetns, 'link', 'set', i.peerName, 'up']);
}

export interface LinkXdp {
  ifname: string;
  rx: { packets: number; bytes: number; dropped: number };
  progs: { id: number; name: string | null; tag: string | null; mode: string }[];
}

const XDP_MODES: Record<number, string> = { 1: 'native', 2: 'generic', 3: 'offload', 4: 'multi' };

/** Interfaces of a namespace (null: the caller's own) with their XDP programs and RX counters. */
export async function linksIn(netns: string | null): Promise<LinkXdp[]> {
  if (netns && !existsSync(netnsPath(netns))) return [];
  const out = await ip([...(netns ? ['-n', netns] : []), '-s', '-d', '-j', 'link', 'show'], true);
  if (!out.trim()) return [];
  type Raw = {
    ifname: string;
    stats64?: { rx?: { packets: number; bytes: number; dropped: number } };
    xdp?: {
      mode?: number;
      prog?: { id: number; name?: string; tag?: string };
      attached?: { mode: number; prog: { id: number; name?: string; tag?: string } }[];
    };
  };
  return (JSON.parse(out) as Raw[]).map((l) => {
    const attached = l.xdp?.attached ?? (l.xdp?.prog ? [{ mode: l.xdp.mode ?? 0, prog: l.xdp.prog }] : []);
    return {
      ifname: l.ifname,
      rx: { packets: l.stats64?.rx?.packets ?? 0, bytes: l.stats64?.rx?.bytes ?? 0, dropped: l.stats64?.rx?.dropped ?? 0 },
      progs: attached.map((a) => ({
        id: a.prog.id,
        name: a.prog.name ?? null,
        tag: a.prog.tag ?? null,
        mode: XDP_MODES[a.mode] ?? String(a.mode),
      })),
    };
  });
}

/** Removes the machine's namespaces (and with them its veth pairs). Only ours: names start with iop-. */
export async function removeMachine(agentId: string): Promise<void> {
  const { netns, peerNetns } = machineNames(agentId);
  for (const n of [netns, peerNetns]) if (existsSync(netnsPath(n))) await ip(['netns', 'del', n], true);
}
