import { estimateNsPerPacket, type ObjectFacts } from '@ioplane/compiler';
import type { ChainModule } from '../device.driver';

export interface Tally {
  packets: number;
  bytes: number;
  drops: number;
  cpuNs: number;
  at: number;
}

const DEFAULT_PPS = 1000;

/**
 * The counters of an emulated device's modules, modeled: each running module counts its pps (or
 * the scenario's) from its load on, the packets its predecessors passed; a crashing chain drops all.
 */
export class TrafficModel {
  private readonly tallies = new Map<string, Tally>();
  /** Module -> pps a workload scenario sets, overriding the pps the module was loaded with. */
  private readonly traffic = new Map<string, number>();

  constructor(private readonly meanPacketBytes: number) {}

  /** Advances every running module's counters to now. */
  sample(
    ports: readonly { current: { state: { loadedAt: string }; modules: ChainModule[]; facts: ObjectFacts[]; unhealthy: boolean } | null }[],
    offline: boolean,
  ): void {
    const now = Date.now();
    for (const [portNo, port] of ports.entries()) {
      const chain = port.current;
      if (!chain) continue;
      for (const [i, m] of chain.modules.entries()) {
        const key = `${portNo}/${m.name}`;
        const t = this.tallies.get(key) ?? { packets: 0, bytes: 0, drops: 0, cpuNs: 0, at: Date.parse(chain.state.loadedAt) };
        const seconds = offline ? 0 : (now - t.at) / 1000;
        // Packets reaching a later module are those the earlier ones passed; a crashing chain drops all.
        const n = Math.floor(seconds * (this.traffic.get(m.name) ?? m.pps ?? DEFAULT_PPS));
        t.packets += n;
        t.bytes += n * this.meanPacketBytes;
        if (chain.unhealthy) t.drops += n;
        const prog = chain.facts[i].programs.find((p) => p.name === m.program || p.section === m.program);
        t.cpuNs += n * estimateNsPerPacket(prog?.totalInstructions ?? 0).ns;
        t.at = now;
        this.tallies.set(key, t);
      }
    }
  }

  /** `module` counts `pps` from now on wherever it runs; null: the pps it was loaded with. */
  setTraffic(module: string, pps: number | null): void {
    if (pps === null) this.traffic.delete(module);
    else this.traffic.set(module, Math.max(0, pps));
  }

  tally(port: number, module: string): Omit<Tally, 'at'> {
    return this.tallies.get(`${port}/${module}`) ?? { packets: 0, bytes: 0, drops: 0, cpuNs: 0 };
  }
}
