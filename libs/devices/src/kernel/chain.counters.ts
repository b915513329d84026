import { join } from 'node:path';
import type { ChainState, HookCounters, ModuleCounters, PortInterface } from '../device.driver';
import { HOOK_ROW } from './chain.root';
import { readChainStats, readMapTotals, readStats } from './map.counters';
import type { LinkXdp } from './netns.setup';

export interface PortCounterInput {
  port: number;
  iface: PortInterface;
  chain: ChainState;
  /** The chain's bpffs folder. */
  dir: string;
  /** The hook's counter map (tail-call chains). */
  hookStatsPin: string;
  links: LinkXdp[];
  progStats: (pin: string) => Promise<{ runCnt: number; runTimeNs: number } | null>;
}

/**
 * Counters of one port's chain, from the best source it has: the hook counter map the chain's
 * epilogues write (tail calls), the dispatcher's per-slot map (freplace), the kernel's program
 * stats (a single module as root), or the interface's RX counters.
 */
export async function portCounters(p: PortCounterInput): Promise<{ modules: ModuleCounters[]; hook: HookCounters | null }> {
  const modules: ModuleCounters[] = [];
  const rx = p.links.find((l) => l.ifname === p.iface.name)?.rx ?? { packets: 0, bytes: 0, dropped: 0 };
  const rows = p.chain.mechanism === 'tail-call' ? await readChainStats(p.hookStatsPin) : null;
  const stats = !rows && p.chain.modules.length > 1 ? await readStats(join(p.dir, 'stats')) : null;
  for (const [i, m] of p.chain.modules.entries()) {
    const maps = await readMapTotals(p.dir, `m${i}_map_`);
    const base = { module: m.name, port: p.port, maps };
    const row = rows?.[i];
    if (row) {
      modules.push({
        ...base,
        slot: i,
        packets: row.packets,
        bytes: row.bytes,
        drops: row.dropped,
        passed: row.passed,
        other: row.other,
        cpuNs: row.ns,
        source: 'chain',
      });
      continue;
    }
    const prog = await p.progStats(join(p.dir, `m${i}_prog`));
    if (stats?.[i]) modules.push({ ...base, ...stats[i], cpuNs: prog && prog.runCnt > 0 ? prog.runTimeNs : null, source: 'dispatcher' });
    else if (prog && prog.runCnt > 0)
      modules.push({ ...base, packets: prog.runCnt, bytes: rx.bytes, drops: rx.dropped, cpuNs: prog.runTimeNs, source: 'prog-stats' });
    else modules.push({ ...base, packets: rx.packets, bytes: rx.bytes, drops: rx.dropped, cpuNs: null, source: 'interface' });
  }
  const hookRow = rows?.[HOOK_ROW];
  if (!hookRow) return { modules, hook: null };
  const root = await p.progStats(join(p.dir, 'root'));
  return {
    modules,
    hook: {
      port: p.port,
      interface: p.iface.name,
      packets: hookRow.packets,
      bytes: hookRow.bytes,
      missed: hookRow.missed,
      cpuNs: root && root.runCnt > 0 ? root.runTimeNs : null,
    },
  };
}
