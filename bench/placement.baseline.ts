import { STAGE_ORDER, Target } from '@ioplane/domain';
import {
  costOf, flavoursOf, HOST_VERDICT_KEY, isFlowTarget, latencyOf, PlacementMachine, PlacementModule, PROGRAM_SWAP_SECONDS, sortChain, trafficFor, usageOf,
} from '@ioplane/placement';

export interface BaselinePick {
  module: string;
  deviceId: string;
  target: Target;
  cost: number;
}

/**
 * Filter-and-score, the way a simple scheduler does it: for every machine, for every module in
 * chain order, list the (device, target) pairs of the device's current firmware, drop those the
 * verifier, latency budget, device throughput, remaining capacity or chain order rule out, score
 * the rest with the same cost model, take the best. No caching, no look-ahead, no revision.
 * Returns null for a machine where some module finds no target.
 */
export function baselinePlan(machine: PlacementMachine, modules: readonly PlacementModule[]): BaselinePick[] | null {
  const used = new Map<string, { slots: number; instructions: number; mapMemoryBytes: number; flowRules: number; throughput: number; arm: number }>();
  let hostCores = 0;
  let stage = 0;
  const picks: BaselinePick[] = [];
  const devices = machine.devices.some((d) => d.kind === 'host-cpu') ? machine.devices : [...machine.devices, { id: `${machine.systemId}/cpu`, kind: 'host-cpu' as const, flavours: [] }];
  for (const m of sortChain(modules)) {
    const traffic = trafficFor(machine, m);
    let best: (BaselinePick & { usage: ReturnType<typeof usageOf> }) | null = null;
    for (const d of devices) {
      const f = flavoursOf(d)[0];
      if (!f) continue;
      const u0 = used.get(d.id) ?? { slots: 0, instructions: 0, mapMemoryBytes: 0, flowRules: 0, throughput: 0, arm: 0 };
      for (const target of f.targets) {
        if (STAGE_ORDER[target] < stage) continue;
        const v = m.verdicts[f.profileId] ?? (target.startsWith('host-') ? m.verdicts[HOST_VERDICT_KEY] : undefined);
        if (!v || !v.acceptedTargets.includes(target)) continue;
        const latency = latencyOf(f, target);
        if (latency > m.latencyBudgetUs) continue;
        const u = usageOf(m, traffic, f, target);
        if (u0.slots + u.slots > f.programSlotsPerPort * f.ports && !isFlowTarget(target)) continue;
        if (u0.instructions + u.instructions > f.maxInstructions || u0.mapMemoryBytes + u.mapMemoryBytes > f.mapMemoryBytes) continue;
        if (u0.flowRules + u.flowRules > f.flowRules || u0.throughput + u.throughput > 1 || u0.arm + u.arm > 1) continue;
        if (hostCores + u.hostCores > machine.hostCoreBudget) continue;
        const cur = machine.currentPlacement[m.name];
        const moved = cur !== undefined && (cur.deviceId !== d.id || cur.target !== target);
        const cost = costOf(m, u, latency, target, moved ? PROGRAM_SWAP_SECONDS : 0).total;
        if (!best || cost < best.cost) best = { module: m.name, deviceId: d.id, target, cost, usage: u };
      }
    }
    if (!best) return null;
    const u = best.usage;
    const acc = used.get(best.deviceId) ?? { slots: 0, instructions: 0, mapMemoryBytes: 0, flowRules: 0, throughput: 0, arm: 0 };
    acc.slots += u.slots;
    acc.instructions += u.instructions;
    acc.mapMemoryBytes += u.mapMemoryBytes;
    acc.flowRules += u.flowRules;
    acc.throughput += u.throughput;
    acc.arm += u.arm;
    used.set(best.deviceId, acc);
    hostCores += u.hostCores;
    stage = STAGE_ORDER[best.target];
    picks.push({ module: best.module, deviceId: best.deviceId, target: best.target, cost: best.cost });
  }
  return picks;
}
