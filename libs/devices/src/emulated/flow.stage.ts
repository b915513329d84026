import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { DeviceError } from '../device.error';
import type { ChainModule, ModuleCounters } from '../device.driver';
import { TcFlowerStage } from '../hardware/hardware.stages';
import { FLOWER_BASE_PRIO } from '../hardware/flower.rules';
import { bpffsRoot } from '../kernel-xdp.driver';
import { flowerHits } from '../kernel/fleet.topology';
import {
  attachFlowTable,
  detachFlowTable,
  kernelHasFlower,
  loadFlowTable,
  readFlowTable,
  tcIn,
  type FlowModule,
} from '../kernel/flow.table';
import type { StageSpec } from './emulated.stage';

export type FlowEngine = 'flower' | 'bpf-flow-table';

interface Installed {
  engine: FlowEngine;
  modules: FlowModule[];
  /** bpffs folder of a flow-table instance. */
  dir: string | null;
}

/** A catch-all rule after a flower form's rules: every packet that reached the module is then counted by some rule. */
const catchAllPrio = (m: FlowModule): number => FLOWER_BASE_PRIO + m.matchAction.rules.length * (m.matchAction.vlan ? 2 : 1);

/**
 * Emulated flow offload that carries the real packets: a port's flow modules (their match-action
 * forms) become rules at tc ingress of the stage's netdev, so probe packets from the wire meet
 * them before the stage forwards. Where the kernel has cls_flower, a lone module's form is
 * installed as flower filters with skip_hw, as a real eSwitch would hold them with skip_sw;
 * otherwise (and for chains of several modules, which flower's `ok` would end after the first)
 * the BPF flow table (iop-flow-table.bpf.c) holds them. Either way the counters come from the
 * kernel: flower's per-rule hits, or the table's per-module and per-rule maps.
 */
export class FlowStage {
  private readonly current = new Map<number, Installed>();
  private readonly previous = new Map<number, Installed | null>();
  private seq = 0;
  private readonly root: string;

  constructor(
    private readonly spec: StageSpec,
    private readonly maxRules: () => number,
  ) {
    const id = createHash('sha256').update(`${spec.netns}/${spec.agentId}`).digest('hex').slice(0, 12);
    this.root = join(bpffsRoot(spec.agentId), `flow-${id}`);
  }

  private probed: FlowEngine | null = null;
  /** Rules of a device whose firmware was replaced, being taken off; every operation waits for it. */
  private clearing: Promise<void> = Promise.resolve();

  /**
   * New firmware reloads the device: none of its rules survive. Taken off in the background (the
   * firmware callback is synchronous); the next operation on the stage waits until they are gone.
   */
  reset(): void {
    const ports = [...this.current.keys()];
    this.clearing = this.clearing.then(async () => {
      for (const p of ports) await this.detachNow(p).catch(() => undefined);
    });
  }

  /** At agent start: whether this kernel takes flower rules, tried on a throwaway veth in the stage's namespace. */
  async init(): Promise<FlowEngine> {
    this.probed = (await kernelHasFlower(this.spec.netns)) ? 'flower' : 'bpf-flow-table';
    return this.probed;
  }

  /** What holds a lone flow module's rules here (several on one port always take the flow table); null before init. */
  rulesEngine(): FlowEngine | null {
    return this.probed;
  }

  has(port: number): boolean {
    return !!this.spec.netdevs[port];
  }

  engine(port: number): FlowEngine | undefined {
    return this.current.get(port)?.engine;
  }

  private dev(port: number): string {
    const d = this.spec.netdevs[port];
    if (!d) throw new DeviceError('port_out_of_range', `port ${port} has no stage`, 'port');
    return d;
  }

  private async install(port: number, modules: FlowModule[]): Promise<Installed> {
    const dev = this.dev(port);
    if (modules.length === 1 && (await kernelHasFlower(this.spec.netns))) {
      const flower = new TcFlowerStage(
        (tool, args) => (tool === 'tc' ? tcIn(this.spec.netns, args) : Promise.resolve({ code: 1, stderr: 'ip is not used here' })),
        'skip_hw',
        { maxRules: this.maxRules() },
      );
      await flower.install(dev, modules[0].matchAction);
      const r = await tcIn(this.spec.netns, [
        'filter',
        'add',
        'dev',
        dev,
        'ingress',
        'prio',
        String(catchAllPrio(modules[0])),
        'protocol',
        'all',
        'flower',
        'skip_hw',
        'action',
        'ok',
      ]);
      if (r.code !== 0) {
        await flower.remove(dev, modules[0].matchAction);
        throw new DeviceError('kernel_refused', `installing the catch-all flower rule on ${dev}: ${r.stderr.trim()}`);
      }
      return { engine: 'flower', modules, dir: null };
    }
    const dir = join(this.root, `p${port}-${process.pid}-${this.seq++}`);
    await loadFlowTable(join(this.spec.stateDir, 'flow-table'), dir, modules);
    try {
      await attachFlowTable(this.spec.netns, dev, dir);
    } catch (e) {
      await fsp.rm(dir, { recursive: true, force: true });
      throw e;
    }
    return { engine: 'bpf-flow-table', modules, dir };
  }

  private async uninstall(port: number, x: Installed, attached: boolean): Promise<void> {
    const dev = this.dev(port);
    if (x.engine === 'flower') {
      for (const k of [...Array(catchAllPrio(x.modules[0]) - FLOWER_BASE_PRIO + 1).keys()]) {
        await tcIn(this.spec.netns, ['filter', 'del', 'dev', dev, 'ingress', 'prio', String(FLOWER_BASE_PRIO + k)]);
      }
      return;
    }
    if (attached) await detachFlowTable(this.spec.netns, dev);
    if (x.dir) await fsp.rm(x.dir, { recursive: true, force: true });
  }

  /** Installs the port's flow chain; the previous one is kept until commit (a table swap is one tc replace). */
  async load(port: number, chain: ChainModule[]): Promise<FlowEngine> {
    await this.clearing;
    const modules = chain.map((m, i): FlowModule => {
      if (!m.matchAction)
        throw new DeviceError(
          'offload_refused',
          `module ${m.name} has no match-action form, so a flow target cannot hold it`,
          `modules[${i}].matchAction`,
        );
      return { name: m.name, matchAction: m.matchAction };
    });
    const old = this.current.get(port) ?? null;
    // Flower rules sit at fixed priorities, so the old ones go before the new ones come; a table is swapped in place.
    if (old?.engine === 'flower') await this.uninstall(port, old, true);
    const next = await this.install(port, modules);
    if (old?.engine === 'bpf-flow-table' && next.engine === 'flower') await this.uninstall(port, old, true);
    const prev = this.previous.get(port);
    if (prev && prev !== old) await this.uninstall(port, prev, false);
    this.previous.set(port, old);
    this.current.set(port, next);
    return next.engine;
  }

  async rollback(port: number): Promise<void> {
    await this.clearing;
    const cur = this.current.get(port);
    if (!cur) return;
    const prev = this.previous.get(port) ?? null;
    if (prev?.engine === 'bpf-flow-table' && prev.dir && cur.engine === 'bpf-flow-table') {
      await attachFlowTable(this.spec.netns, this.dev(port), prev.dir);
      await this.uninstall(port, cur, false);
    } else {
      await this.uninstall(port, cur, true);
      if (prev) {
        const again = await this.install(port, prev.modules);
        if (prev.dir) await fsp.rm(prev.dir, { recursive: true, force: true });
        this.current.set(port, again);
        this.previous.delete(port);
        return;
      }
    }
    this.previous.delete(port);
    if (prev) this.current.set(port, prev);
    else this.current.delete(port);
  }

  async detach(port: number): Promise<void> {
    await this.clearing;
    await this.detachNow(port);
  }

  private async detachNow(port: number): Promise<void> {
    const cur = this.current.get(port);
    const prev = this.previous.get(port);
    if (cur) await this.uninstall(port, cur, true);
    if (prev) await this.uninstall(port, prev, false);
    this.current.delete(port);
    this.previous.delete(port);
  }

  async commit(port: number): Promise<void> {
    await this.clearing;
    const prev = this.previous.get(port);
    if (prev && prev.dir) await fsp.rm(prev.dir, { recursive: true, force: true });
    this.previous.delete(port);
  }

  /** Per port running flow rules: each module's counters as the kernel counted them. */
  async counters(): Promise<Map<number, ModuleCounters[]>> {
    await this.clearing;
    const out = new Map<number, ModuleCounters[]>();
    for (const [port, x] of this.current) {
      if (x.engine === 'bpf-flow-table') {
        const rows = x.dir ? await readFlowTable(x.dir, x.modules) : null;
        if (!rows) throw new DeviceError('kernel_failed', `the flow table of port ${port} (${this.spec.netns}) cannot be read`);
        out.set(
          port,
          rows.map((r, k) => ({
            module: x.modules[k].name,
            port,
            packets: r.packets,
            bytes: r.bytes,
            drops: r.drops,
            passed: r.passed,
            cpuNs: null,
            source: 'flow-table' as const,
            maps: Object.fromEntries(r.ruleHits.map((h, i) => [`rule${i}`, h])),
          })),
        );
        continue;
      }
      const m = x.modules[0];
      const hits = await flowerHits(this.spec.netns, this.dev(port));
      const ruleOf = (prio: number): number => Math.floor((prio - FLOWER_BASE_PRIO) / (m.matchAction.vlan ? 2 : 1));
      const mine = hits.filter((h) => h.prio >= FLOWER_BASE_PRIO && h.prio <= catchAllPrio(m));
      const packets = mine.reduce((s, h) => s + h.packets, 0);
      const drops = mine
        .filter((h) => h.prio < catchAllPrio(m) && m.matchAction.rules[ruleOf(h.prio)]?.action === 'drop')
        .reduce((s, h) => s + h.packets, 0);
      out.set(port, [{ module: m.name, port, packets, bytes: 0, drops, passed: packets - drops, cpuNs: null, source: 'flower' }]);
    }
    return out;
  }
}
