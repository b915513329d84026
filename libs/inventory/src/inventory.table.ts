import type { Device, FleetMachine } from '@ioplane/domain';

function deviceLabel(d: Device): string {
  const name = d.kind === 'dpu' && d.dpuSystemId ? `${d.name}->${d.dpuSystemId}` : d.name;
  return `${name}:${d.profileId ?? 'unprofiled'}`;
}

/** Plain-text fleet table for terminals: one row per machine, its devices and matched profiles. */
export function renderFleetTable(machines: FleetMachine[]): string {
  const header = ['HOSTNAME', 'SYSTEM_ID', 'ZONE', 'POOL', 'STATUS', 'ARCH', 'DEVICES (name:profile)'];
  const rows = machines.map((m) => [
    m.isDpu ? `  ${m.hostname}` : m.hostname,
    m.systemId,
    m.zone,
    m.pool,
    m.statusName,
    m.architecture.split('/')[0],
    m.devices.map(deviceLabel).join(', ') || '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** Hosts first, each followed by its DPUs, so the table reads as the hardware does. */
export function orderHostsWithDpus(machines: FleetMachine[]): FleetMachine[] {
  const hosts = machines.filter((m) => !m.isDpu).sort((a, b) => a.hostname.localeCompare(b.hostname));
  const dpus = machines.filter((m) => m.isDpu);
  const out: FleetMachine[] = [];
  for (const h of hosts) out.push(h, ...dpus.filter((d) => d.parentSystemId === h.systemId));
  out.push(...dpus.filter((d) => !hosts.some((h) => h.systemId === d.parentSystemId)));
  return out;
}
