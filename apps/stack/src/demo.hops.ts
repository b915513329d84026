import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { MachineTopology, PortPath } from '@ioplane/devices';
import type { StoredPlan } from '@ioplane/planning';
import type { MachineRecord } from '@ioplane/rollout';

const run = promisify(execFile);

/** The kernel's XDP modes as `ip -j link` numbers them. */
const XDP_MODE: Record<number, string> = { 1: 'xdpdrv', 2: 'xdpgeneric', 3: 'xdpoffload' };

type PlannedPath = StoredPlan['machines'][number]['paths'][number];
type Hop = PlannedPath['hops'][number];

/** Where a hop's hook sits in the emulated machine: the namespace and the netdev, by the stage kind its hook belongs to. */
function placeOf(topology: MachineTopology, path: PlannedPath, hop: Hop): { netns: string; dev: string } | null {
  const port: PortPath | undefined = topology.ports.find((p) => p.interface === path.ingress.interface);
  if (!port) return null;
  const kind = hop.hook.startsWith('dpu-') ? 'dpu' : hop.hook.startsWith('nic-') ? 'nic' : 'host';
  if (kind === 'host') return { netns: topology.hostNetns, dev: port.netdev };
  const stage = port.hops.find((h) => h.kind === kind);
  return stage ? { netns: stage.netns, dev: stage.ingress } : null;
}

/**
 * What the kernel shows at a hop, asked with the operator's own tools (not the agent): the XDP
 * program attached to the netdev (`ip -n <ns> -j -d link show <dev>`), or the tc filters at its
 * ingress (`tc -n <ns> -j filter show dev <dev> ingress`) for flow rules.
 */
async function kernelView(where: { netns: string; dev: string }, hop: Hop): Promise<string> {
  try {
    if (hop.hook.endsWith('flow')) {
      const { stdout } = await run('tc', ['-n', where.netns, '-j', 'filter', 'show', 'dev', where.dev, 'ingress']);
      const filters = (JSON.parse(stdout || '[]') as Array<{ kind?: string; options?: unknown }>).filter((f) => f.options);
      return filters.length
        ? `tc: ${filters.length} ${[...new Set(filters.map((f) => f.kind))].join('/')} filter(s) at ingress`
        : 'tc: NO filter at ingress';
    }
    const { stdout } = await run('ip', ['-n', where.netns, '-j', '-d', 'link', 'show', 'dev', where.dev]);
    const xdp = (
      JSON.parse(stdout) as Array<{
        xdp?: {
          mode: number;
          prog?: { id: number; name?: string };
          attached?: Array<{ mode: number; prog: { id: number; name?: string } }>;
        };
      }>
    )[0]?.xdp;
    const progs = xdp?.attached ?? (xdp?.prog ? [{ mode: xdp.mode, prog: xdp.prog }] : []);
    if (!progs.length) return 'ip: NO XDP program';
    return `ip: ${progs.map((p) => `${XDP_MODE[p.mode] ?? `mode ${p.mode}`} prog ${p.prog.id}${p.prog.name ? ` ${p.prog.name}` : ''}`).join(', ')}`;
  } catch (e) {
    return `cannot ask the kernel: ${(e as Error).message.split('\n')[0]}`;
  }
}

/**
 * Per machine and ingress port: probe packets the health check sent at the wire and what each hop
 * of the chain counted, in packet order, beside what the kernel shows at that hop. A hop whose
 * counters are emulated (no packet crossed it) says so instead of showing a count.
 */
export async function renderHops(
  plan: StoredPlan,
  machines: MachineRecord[],
  topologyOf: (systemId: string) => MachineTopology | null,
): Promise<string[]> {
  const out: string[] = [];
  for (const m of plan.machines.filter((x) => x.feasible)) {
    const rec = machines.find((r) => r.systemId === m.systemId);
    if (!rec) continue;
    const topology = topologyOf(m.systemId);
    out.push(
      `${m.hostname} (${rec.state})${topology ? `, namespaces ${topology.namespaces.join(' ')}` : ', no emulated namespaces (not run in a kernel)'}`,
    );
    for (const path of m.paths) {
      // Each chain part on the path sent its probes at this port's wire. The record names the agent
      // device that ran a part (a card's host XDP runs on its `~xdp` device), the plan the card: hops
      // are matched by module, target and netdev.
      const ifaces = new Set(path.hops.map((h) => h.interface));
      const sent = (rec.probe?.sent ?? []).filter((s) => s.interface !== null && ifaces.has(s.interface)).reduce((n, s) => n + s.sent, 0);
      out.push(`  ${path.ingress.interface}: ${rec.probe ? `${sent} probe packets sent at the wire` : 'no health check result on record'}`);
      for (const hop of path.hops) {
        const seen = rec.probe?.hops.find((x) => x.module === hop.module && x.target === hop.target && x.interface === hop.interface);
        const count = !seen
          ? 'not counted'
          : seen.source === 'emulated'
            ? 'NOT RUN (emulated counters, no packet crossed it)'
            : `counted ${seen.packets}`;
        const where = topology ? placeOf(topology, path, hop) : null;
        const view = where ? `${where.netns}/${where.dev}: ${await kernelView(where, hop)}` : 'no kernel view';
        out.push(`    ${hop.position} ${hop.module.padEnd(14)} ${hop.hook.padEnd(15)} ${count.padEnd(14)}  ${view}`);
      }
    }
  }
  return out;
}
