import { existsSync } from 'node:fs';
import { runProcess } from '@ioplane/compiler';
import type { HostInterface } from '@ioplane/agent-api';
import { DeviceError } from '../device.error';

export type { HostInterface } from '@ioplane/agent-api';
import { linuxName } from '../kernel/netns.setup';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip', '/bin/ip'].find((p) => existsSync(p)) ?? 'ip';
const ETHTOOL = ['/usr/sbin/ethtool', '/sbin/ethtool', '/usr/bin/ethtool'].find((p) => existsSync(p)) ?? 'ethtool';
const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };

interface RawLink {
  ifindex: number;
  ifname: string;
  address?: string;
  operstate?: string;
  master?: string;
  linkinfo?: { info_kind?: string };
  xdp?: { prog?: { id: number }; attached?: { prog: { id: number } }[] };
}

/** `ip -d -j link show` output -> interfaces without driver facts; loopback left out (no port). */
export function parseIpLinks(json: string): Omit<HostInterface, 'driver' | 'driverVersion' | 'firmwareVersion' | 'busInfo'>[] {
  if (!json.trim()) return [];
  const raw = JSON.parse(json) as RawLink[];
  return raw
    .filter((l) => l.ifname !== 'lo')
    .map((l) => ({
      name: l.ifname,
      ifindex: l.ifindex,
      mac: l.address ?? null,
      operState: l.operstate ?? 'UNKNOWN',
      kind: l.linkinfo?.info_kind ?? null,
      master: l.master ?? null,
      xdpProgIds: (l.xdp?.attached?.map((a) => a.prog.id) ?? (l.xdp?.prog ? [l.xdp.prog.id] : [])).filter((id) => Number.isInteger(id)),
    }));
}

/** `ethtool -i` output -> its driver facts; an empty field is null. */
export function parseEthtoolInfo(text: string): Pick<HostInterface, 'driver' | 'driverVersion' | 'firmwareVersion' | 'busInfo'> {
  const field = (key: string): string | null => {
    const line = text.split('\n').find((l) => l.startsWith(`${key}:`));
    const v = line?.slice(key.length + 1).trim();
    return v ? v : null;
  };
  return {
    driver: field('driver'),
    driverVersion: field('version'),
    firmwareVersion: field('firmware-version'),
    busInfo: field('bus-info'),
  };
}

/**
 * The interfaces of the namespace the agent manages: its own (`netns` null, a real host) or a
 * named one (an emulated machine's host namespace). Commands are the same either way; only
 * `ip -n` / `ip netns exec` name where they look.
 */
export async function hostInterfaces(netns: string | null): Promise<HostInterface[]> {
  const r = await runProcess(IP, [...(netns ? ['-n', netns] : []), '-d', '-j', 'link', 'show'], { timeoutMs: 10_000, env: ENV });
  if (r.code !== 0) throw new DeviceError('kernel_failed', `ip link show${netns ? ` in ${netns}` : ''} failed: ${r.stderr.trim()}`);
  const links = parseIpLinks(r.stdout);
  return Promise.all(
    links.map(async (l) => {
      const cmd = netns ? ([IP, ['netns', 'exec', netns, ETHTOOL, '-i', l.name]] as const) : ([ETHTOOL, ['-i', l.name]] as const);
      const e = await runProcess(cmd[0], [...cmd[1]], { timeoutMs: 10_000, env: ENV }).catch(() => null);
      const facts =
        e && e.code === 0 ? parseEthtoolInfo(e.stdout) : { driver: null, driverVersion: null, firmwareVersion: null, busInfo: null };
      return { ...l, ...facts };
    }),
  );
}

/** Refuses a name the host does not have, naming it and what the host has. */
export function requireInterface(name: string, have: readonly HostInterface[], host: string, field = 'interface'): HostInterface {
  const found = have.find((i) => i.name === name || i.name === linuxName(name));
  if (found) return found;
  throw new DeviceError(
    'unknown_interface',
    `interface ${name} is not on ${host} (it has ${have.map((i) => i.name).join(', ') || 'none'})`,
    field,
    { interface: name },
  );
}
