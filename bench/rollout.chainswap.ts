import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kernelAvailable } from '@ioplane/compiler';
import { bpffsRoot, portInterface, removeMachine, type ChainModule } from '@ioplane/devices';
import type { FirmwareProfile } from '@ioplane/domain';
import { attachTailCounter, buildStage, sendStageTraffic, staticNeighbour } from '../test/chain-traffic.fixture';
import { benchDevice, benchKernelDriver, BENCH_CACHE_DIR } from './rollout.fleet';

export type ChainSwapResult =
  | { skipped: string }
  | {
      sent: number;
      counted: number;
      lost: number;
      disordered: number;
      replacements: number;
      seconds: number;
      mode: string;
      mechanism: string;
      rate: number;
      broken: string[];
    };

/**
 * A chain of three modules on one veth hook (tail calls where the kernel refuses freplace),
 * replaced one module at a time through the agent's kernel driver while UDP flows: each change
 * loads a whole new chain (new program array, new root) and swaps the root through the pinned
 * link. Packets are counted after XDP at tc ingress, where each also shows whether it went
 * through the three stages in order; lost = sent - counted.
 */
export async function measureChainSwap(o: { packets: number; rate: number; profiles: FirmwareProfile[] }): Promise<ChainSwapResult> {
  if (process.getuid?.() !== 0) return { skipped: 'not root' };
  const k = await kernelAvailable();
  if (!k.ok) return { skipped: `no kernel XDP: ${k.reason}` };
  const agentId = `bench-cs-${process.pid}`;
  const work = mkdtempSync(join(tmpdir(), 'ioplane-bench-chainswap-'));
  const device = benchDevice('bench-chainswap', 'eth0', 'nic', null);
  const iface = portInterface(agentId, 0, device.id, 0);
  const broken: string[] = [];
  let traffic: ReturnType<typeof sendStageTraffic> | undefined;
  try {
    const stages: ChainModule[][] = [];
    for (const s of [0, 1, 2]) stages.push([await buildStage(work, BENCH_CACHE_DIR, s, 1), await buildStage(work, BENCH_CACHE_DIR, s, 2)]);
    const driver = await benchKernelDriver({ agentId, device, stateDir: join(work, 'agent'), profiles: o.profiles });
    const mechanism = driver.inventory().chain?.mechanism ?? 'none';
    const chain = (versions: number[]): ChainModule[] => versions.map((v, s) => stages[s][v]);
    const first = await driver.load({ port: 0, target: 'host-xdp-native', modules: chain([0, 0, 0]) });
    await staticNeighbour(iface);
    const tail = await attachTailCounter(iface, work, join(bpffsRoot(agentId), 'bench-tail'), 3);

    // One module changes per step: stage 0, then 1, then 2, then back again.
    const versions = [0, 0, 0];
    const before = await tail.read();
    traffic = sendStageTraffic(iface, { count: o.packets, rate: o.rate });
    let finished = false;
    void traffic.done.finally(() => (finished = true)).catch(() => undefined);
    let replacements = 0;
    const t0 = performance.now();
    while (!finished) {
      const s = replacements % 3;
      versions[s] = 1 - versions[s];
      const r = await driver.load({ port: 0, target: 'host-xdp-native', modules: chain(versions) });
      if (r.status !== 'replaced') broken.push(`chain change ${replacements}: ${r.status}`);
      replacements++;
    }
    const sent = await traffic.done;
    traffic = undefined;
    const seconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 200));
    const after = await tail.read();
    const counted = after.total - before.total;
    const disordered = after.disordered - before.disordered;
    if (counted > sent) broken.push(`counted ${counted} packets after the chain but only ${sent} were sent`);
    if (disordered > 0) broken.push(`${disordered} packets met the chain's modules out of order`);
    await driver.detach(0);
    return {
      sent,
      counted,
      lost: sent - counted,
      disordered,
      replacements,
      seconds,
      mode: first.current.mode,
      mechanism,
      rate: o.rate,
      broken,
    };
  } finally {
    await traffic?.stop().catch(() => undefined);
    // Only what this run made: its two namespaces (and with them the veth pair and the tc filter), its bpffs folder, its temp files.
    await removeMachine(agentId).catch(() => undefined);
    rmSync(bpffsRoot(agentId), { recursive: true, force: true });
    rmSync(work, { recursive: true, force: true });
  }
}
