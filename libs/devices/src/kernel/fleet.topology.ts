import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { BPFFS_ROOT, runProcess } from '@ioplane/compiler';
import { DeviceError } from '../device.error';
import { ensureNetns, ip, linuxName, netnsPath } from './netns.setup';

const ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
const TC = ['/usr/sbin/tc', '/sbin/tc', '/usr/bin/tc'].find((p) => existsSync(p)) ?? 'tc';
/** Marker files: which simulator process created which namespaces, so a crashed run's leftovers can be told from anyone else's. */
export const FLEET_MARKER_DIR = process.env.IOPLANE_FLEET_MARKERS ?? '/run/ioplane-fleet';
/** A tc priority below every filter a module installs on a stage (the stage itself forwards by bridge, after tc). */
export const FORWARD_PRIO = 65000;

/** One port of an emulated machine and what stands in front of it. */
export interface PortPathSpec {
  /** The MAAS interface name, which the host namespace's netdev carries. */
  interface: string;
  /** The DPU serving the port (its label, e.g. `dpu0`); its namespace holds `p<n>` and `pf<n>hpf`. */
  dpu?: string;
  /** The port's NIC offloads (XDP offload or flow rules): an emulated-NIC stage sits before the host. */
  nicStage?: boolean;
}

export interface MachineTopologySpec {
  hostname: string;
  /** The simulator instance that owns these namespaces. */
  instanceId: string;
  /** Keeps the machines' address ranges apart (0-249). */
  index: number;
  ports: PortPathSpec[];
}

export type HopKind = 'wire' | 'dpu' | 'nic' | 'host';

/** A namespace a packet crosses on a port's path, with the netdev it enters through. */
export interface PathHop {
  kind: HopKind;
  netns: string;
  /** Where packets from the wire arrive (XDP and flower rules go here). */
  ingress: string;
  /** Where the stage forwards them to (none at the host). */
  egress: string | null;
}

export interface PortPath {
  /** The MAAS name and the Linux netdev that stands for it (equal unless the MAAS name is longer than Linux allows). */
  interface: string;
  netdev: string;
  hostAddress: string;
  wireAddress: string;
  /** In packet order: wire, [dpu], [nic], host. */
  hops: PathHop[];
}

export interface MachineTopology {
  hostname: string;
  instanceId: string;
  hostNetns: string;
  namespaces: string[];
  ports: PortPath[];
  /** MAAS name -> Linux netdev, for every name that had to be shortened. */
  renamed: Record<string, string>;
}

const safe = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 40);

export function machineNetns(hostname: string, part?: string): string {
  return part ? `iop-${safe(hostname)}-${part}` : `iop-${safe(hostname)}`;
}

/** The plan of a machine's namespaces and links; pure, so names and addresses are testable without a kernel. */
export function planTopology(spec: MachineTopologySpec): MachineTopology {
  if (!Number.isInteger(spec.index) || spec.index < 0 || spec.index > 249)
    throw new DeviceError('port_out_of_range', `machine index ${spec.index} must be 0-249`, 'index');
  if (spec.ports.length > 60)
    throw new DeviceError('port_out_of_range', `at most 60 ports per emulated machine, got ${spec.ports.length}`, 'ports');
  const hostNetns = machineNetns(spec.hostname);
  const wireNetns = machineNetns(spec.hostname, 'wire');
  const namespaces = new Set([hostNetns, wireNetns]);
  const renamed: Record<string, string> = {};
  const dpuPorts = new Map<string, number>();
  const ports = spec.ports.map((p, k): PortPath => {
    const netdev = linuxName(p.interface);
    if (netdev !== p.interface) renamed[p.interface] = netdev;
    const hops: PathHop[] = [{ kind: 'wire', netns: wireNetns, ingress: `w${k}`, egress: null }];
    if (p.dpu) {
      const n = dpuPorts.get(p.dpu) ?? 0;
      dpuPorts.set(p.dpu, n + 1);
      const ns = machineNetns(spec.hostname, safe(p.dpu));
      namespaces.add(ns);
      hops.push({ kind: 'dpu', netns: ns, ingress: `p${n}`, egress: `pf${n}hpf` });
    }
    if (p.nicStage) {
      const ns = machineNetns(spec.hostname, 'nic');
      namespaces.add(ns);
      hops.push({ kind: 'nic', netns: ns, ingress: `s${k}in`, egress: `s${k}out` });
    }
    hops.push({ kind: 'host', netns: hostNetns, ingress: netdev, egress: null });
    return {
      interface: p.interface,
      netdev,
      hostAddress: `10.214.${spec.index}.${k * 4 + 1}`,
      wireAddress: `10.214.${spec.index}.${k * 4 + 2}`,
      hops,
    };
  });
  return { hostname: spec.hostname, instanceId: spec.instanceId, hostNetns, namespaces: [...namespaces], ports, renamed };
}

/**
 * A stage forwards everything it lets through, both ways, at L2: its two netdevs are the ports of a
 * bridge of their own. Not a tc mirred redirect: the kernel marks a redirected skb, and generic XDP
 * (netif_receive_generic_xdp) passes marked skbs without running the program, so a host chain on
 * xdp-generic behind the stage would never see a packet from the wire. A bridge forwards unmarked
 * frames; a module's tc filters and XDP on the stage's ingress still run before it.
 */
async function forward(netns: string, from: string, to: string): Promise<void> {
  const br = `br-${from}`;
  await ip(['-n', netns, 'link', 'del', br], true);
  await ip(['-n', netns, 'link', 'add', br, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0']);
  // The bridge itself sends nothing (no IPv6 link-local, no router solicitations) that a counter could take for a probe.
  await ip(['-n', netns, 'link', 'set', 'dev', br, 'addrgenmode', 'none'], true);
  for (const dev of [from, to]) await ip(['-n', netns, 'link', 'set', 'dev', dev, 'master', br]);
  await ip(['-n', netns, 'link', 'set', 'dev', br, 'up']);
}

async function mac(netns: string, dev: string): Promise<string> {
  const [l] = JSON.parse(await ip(['-n', netns, '-j', 'link', 'show', 'dev', dev])) as { address: string }[];
  return l.address;
}

async function writeMarker(t: MachineTopology): Promise<void> {
  await fsp.mkdir(FLEET_MARKER_DIR, { recursive: true, mode: 0o700 });
  const file = join(FLEET_MARKER_DIR, `${t.hostNetns}.json`);
  await fsp.writeFile(`${file}.tmp`, JSON.stringify({ instanceId: t.instanceId, pid: process.pid, namespaces: t.namespaces }), {
    mode: 0o600,
  });
  await fsp.rename(`${file}.tmp`, file);
}

/**
 * Creates a machine's namespaces and joins them along each port's path with veth pairs; the
 * host namespace's netdevs carry the MAAS names. A namespace that exists already and is not in
 * this instance's marker is someone else's: refused, never reused.
 */
export async function buildTopology(spec: MachineTopologySpec): Promise<MachineTopology> {
  const t = planTopology(spec);
  const marker = await readMarker(t.hostNetns);
  for (const ns of t.namespaces) {
    if (existsSync(netnsPath(ns)) && marker?.instanceId !== t.instanceId) {
      throw new DeviceError(
        'device_busy',
        `network namespace ${ns} exists and was not created by fleet instance ${t.instanceId}; it is left alone`,
        'hostname',
      );
    }
  }
  await writeMarker(t);
  try {
    for (const ns of t.namespaces) await ensureNetns(ns);
    for (const p of t.ports) {
      for (let h = 0; h + 1 < p.hops.length; h++) {
        const a = p.hops[h];
        const b = p.hops[h + 1];
        const out = a.kind === 'wire' ? a.ingress : a.egress!;
        await ip(['-n', a.netns, 'link', 'del', out], true);
        await ip(['-n', a.netns, 'link', 'add', out, 'type', 'veth', 'peer', 'name', b.ingress, 'netns', b.netns]);
      }
      for (const hop of p.hops) {
        for (const dev of [hop.ingress, hop.egress]) if (dev) await ip(['-n', hop.netns, 'link', 'set', dev, 'up']);
        if (hop.kind === 'dpu' || hop.kind === 'nic') await forward(hop.netns, hop.ingress, hop.egress!);
      }
      const wire = p.hops[0];
      const host = p.hops[p.hops.length - 1];
      await ip(['-n', wire.netns, 'addr', 'replace', `${p.wireAddress}/30`, 'dev', wire.ingress]);
      await ip(['-n', host.netns, 'addr', 'replace', `${p.hostAddress}/30`, 'dev', host.ingress]);
      // Fixed neighbours: a chain that drops ARP must not make the probe unroutable before any module sees it.
      await ip([
        '-n',
        wire.netns,
        'neigh',
        'replace',
        p.hostAddress,
        'lladdr',
        await mac(host.netns, host.ingress),
        'dev',
        wire.ingress,
        'nud',
        'permanent',
      ]);
      await ip([
        '-n',
        host.netns,
        'neigh',
        'replace',
        p.wireAddress,
        'lladdr',
        await mac(wire.netns, wire.ingress),
        'dev',
        host.ingress,
        'nud',
        'permanent',
      ]);
    }
  } catch (e) {
    await removeTopology(t).catch(() => undefined);
    throw e;
  }
  return t;
}

interface Marker {
  instanceId: string;
  pid: number;
  namespaces: string[];
}

async function readMarker(hostNetns: string): Promise<Marker | null> {
  try {
    const m = JSON.parse(await fsp.readFile(join(FLEET_MARKER_DIR, `${hostNetns}.json`), 'utf8')) as Marker;
    return typeof m.instanceId === 'string' && Array.isArray(m.namespaces) ? m : null;
  } catch {
    return null;
  }
}

/** Removes a machine's namespaces (their veths go with them) and its marker. */
export async function removeTopology(t: Pick<MachineTopology, 'hostNetns' | 'namespaces'>): Promise<void> {
  for (const ns of t.namespaces) if (/^iop-/.test(ns) && existsSync(netnsPath(ns))) await ip(['netns', 'del', ns], true);
  await fsp.rm(join(FLEET_MARKER_DIR, `${t.hostNetns}.json`), { force: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Leftovers of a simulator that died without cleaning up: namespaces named in a marker whose
 * process is gone. Only `iop-` namespaces a marker lists are removed; nothing else is touched.
 */
export async function removeLeftovers(): Promise<string[]> {
  const files = await fsp.readdir(FLEET_MARKER_DIR).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const f of files.filter((x) => x.endsWith('.json'))) {
    const m = await readMarker(f.slice(0, -'.json'.length));
    if (!m || alive(m.pid)) continue;
    const namespaces = m.namespaces.filter((ns) => /^iop-[a-z0-9-]+$/.test(ns));
    await removeTopology({ hostNetns: f.slice(0, -'.json'.length), namespaces });
    removed.push(...namespaces);
    // Its agents' pins (`<instanceId>-<systemId>[-s<n>]`) hold programs of machines that are gone.
    if (/^[a-z0-9]{1,12}$/.test(m.instanceId)) {
      const pins = join(BPFFS_ROOT, 'ioplane');
      for (const d of await fsp.readdir(pins).catch(() => [] as string[]))
        if (d.startsWith(`${m.instanceId}-`)) await fsp.rm(join(pins, d), { recursive: true, force: true }).catch(() => undefined);
    }
  }
  return removed;
}

/** Counts one stage's flower rules hit (`tc -s filter show`): packets each rule matched. */
export async function flowerHits(netns: string, dev: string): Promise<{ prio: number; packets: number }[]> {
  const r = await runProcess(TC, ['-n', netns, '-s', '-j', 'filter', 'show', 'dev', dev, 'ingress'], { timeoutMs: 10_000, env: ENV });
  if (r.code !== 0 || !r.stdout.trim()) return [];
  type Raw = { pref?: number; kind?: string; options?: { actions?: { stats?: { packets?: number } }[] } };
  return (JSON.parse(r.stdout) as Raw[])
    .filter((f) => f.kind === 'flower' && f.options)
    .map((f) => ({ prio: f.pref ?? 0, packets: f.options!.actions?.reduce((n, a) => n + (a.stats?.packets ?? 0), 0) ?? 0 }));
}
