import type { Target } from '@ioplane/domain';
import {
  costOf,
  CurrentPlacement,
  devicesOf,
  DeviceFlavour,
  flavoursOf,
  hostExtraNs,
  HOST_KERNEL_FLAVOUR,
  latencyOf,
  PlacementDevice,
  PlacementMachine,
  PlacementModule,
  planMachine,
  sortChain,
  TrafficDemand,
  usageOf,
} from '@ioplane/placement';

/**
 * Disruption a move brings beyond what the solver already charges (program swap seconds and
 * firmware flash seconds): a reload can fail and roll back, maps of a stateless module are
 * rebuilt. ESTIMATE, in host-core equivalents per moved module.
 */
export const RELOAD_RISK_HCE = 0.02;

export interface Placed {
  deviceId: string;
  target: Target;
}

export interface Move {
  module: string;
  from: Placed;
  to: Placed & { profileId: string | null };
}

export interface ObservedTraffic {
  pps: number;
  meanPacketBytes: number;
}

export interface MachineInput {
  /** currentPlacement: what the machine runs now. */
  machine: PlacementMachine;
  /** The chain the machine runs (from the placement it follows). */
  modules: PlacementModule[];
  /** Firmware profile each device runs now: the solver then charges a flash only to change it. */
  firmware?: Record<string, string>;
  observed: Record<string, ObservedTraffic>;
  window: number;
}

export interface PlacementCost {
  cost: number;
  hostCores: number;
  armCores: number;
}

export interface Evaluation {
  systemId: string;
  hostname: string;
  window: number;
  observed: Record<string, ObservedTraffic & { declaredPps: number }>;
  current: PlacementCost & {
    /** Why the current placement cannot carry the observed traffic, if it cannot. */
    overload: string | null;
    modules: Record<string, Placed & { cost: number; hostCores: number }>;
    /** Estimated share of each DPU's Arm cores busy under the observed traffic. */
    armLoad: Record<string, number>;
  };
  best: PlacementCost & {
    feasible: boolean;
    placements: Record<string, Placed & { profileId: string | null }>;
    flavourSwitches: Record<string, string>;
    infeasible: string[];
  };
  moves: Move[];
  /** Reload risk of the moves, hce (the solver's migration seconds are in best.cost already). */
  riskHce: number;
  /** current.cost - best.cost - riskHce; 0 when the best plan is the current one. */
  gain: number;
  relativeGain: number;
}

export type EvaluationResult = { ok: true; evaluation: Evaluation } | { ok: false; reason: string };

/** Devices reordered so flavour 0 is the firmware each one runs now (the solver's "no flash"). */
export function withRunningFirmware(machine: PlacementMachine, firmware: Record<string, string> = {}): PlacementMachine {
  const devices = machine.devices.map((d): PlacementDevice => {
    const running = firmware[d.id];
    const i = running ? d.flavours.findIndex((f) => f.profileId === running) : -1;
    return i > 0 ? { ...d, flavours: [d.flavours[i], ...d.flavours.slice(0, i), ...d.flavours.slice(i + 1)] } : d;
  });
  return { ...machine, devices };
}

function flavourFor(device: PlacementDevice, target: Target): DeviceFlavour | null {
  // Generic XDP runs on any card's netdev under the host kernel's limits.
  return flavoursOf(device).find((f) => f.targets.includes(target)) ?? (target === 'host-xdp-generic' ? HOST_KERNEL_FLAVOUR : null);
}

/** What the current placement costs under `traffic`, and whether it can carry it at all. */
export function currentCost(
  machine: PlacementMachine,
  modules: readonly PlacementModule[],
  traffic: Record<string, TrafficDemand>,
): Evaluation['current'] | { missing: string } {
  const devices = devicesOf(machine);
  const perModule: Evaluation['current']['modules'] = {};
  const throughput = new Map<string, number>();
  const arm = new Map<string, number>();
  let cost = 0;
  let hostCores = 0;
  let armCores = 0;
  const over: string[] = [];
  const chain = sortChain(modules);
  for (const [i, m] of chain.entries()) {
    const cur: CurrentPlacement | undefined = machine.currentPlacement[m.name];
    if (!cur) return { missing: `${m.name} is not running on ${machine.hostname}` };
    const device = devices.find((d) => d.id === cur.deviceId);
    const flavour = device && flavourFor(device, cur.target);
    if (!device || !flavour) return { missing: `${m.name} runs ${cur.target} on ${cur.deviceId}, which the inventory does not offer` };
    const t = traffic[m.name] ?? m.traffic;
    // Priced as the solver prices it: host hooks pay the driver's receive (and generic's skb) cost.
    const u = usageOf(
      m,
      t,
      flavour,
      cur.target,
      undefined,
      hostExtraNs(device.flavours[0] ?? null, cur.target, m.passRatio ?? 1, i === chain.length - 1),
    );
    const c = costOf(m, u, latencyOf(flavour, cur.target), cur.target, 0);
    perModule[m.name] = { deviceId: cur.deviceId, target: cur.target, cost: c.total, hostCores: u.hostCores };
    cost += c.total;
    hostCores += u.hostCores;
    armCores += u.armCores;
    throughput.set(device.id, (throughput.get(device.id) ?? 0) + u.throughput);
    if (u.arm > 0) arm.set(device.id, (arm.get(device.id) ?? 0) + u.arm);
  }
  for (const [id, share] of throughput) if (share > 1 + 1e-9) over.push(`${id} carries ${(share * 100).toFixed(0)}% of its packet budget`);
  for (const [id, share] of arm) if (share > 1 + 1e-9) over.push(`${id} needs ${(share * 100).toFixed(0)}% of its Arm cores`);
  if (hostCores > machine.hostCoreBudget + 1e-9)
    over.push(`XDP needs ${hostCores.toFixed(2)} host cores, over the budget of ${machine.hostCoreBudget}`);
  return {
    cost,
    hostCores,
    armCores,
    overload: over.length ? over.join('; ') : null,
    modules: perModule,
    armLoad: Object.fromEntries(arm),
  };
}

/** Current placement under observed traffic against the best placement the solver finds for it. */
export function evaluateMachine(input: MachineInput): EvaluationResult {
  const { modules, observed, window } = input;
  const base = withRunningFirmware(input.machine, input.firmware);
  const missing = modules.filter((m) => !observed[m.name]).map((m) => m.name);
  if (missing.length) return { ok: false, reason: `no traffic observed this window for ${missing.join(', ')}` };
  const traffic: Record<string, TrafficDemand> = {};
  for (const m of modules) {
    const o = observed[m.name];
    // A module that saw no packet still has a chain slot to pay for: keep a token rate.
    traffic[m.name] = { pps: Math.max(o.pps, 1), meanPacketBytes: o.meanPacketBytes > 0 ? o.meanPacketBytes : m.traffic.meanPacketBytes };
  }
  const machine: PlacementMachine = { ...base, traffic };
  const current = currentCost(machine, modules, traffic);
  if ('missing' in current) return { ok: false, reason: current.missing };
  const plan = planMachine(machine, modules);
  const placements: Evaluation['best']['placements'] = {};
  let hostCores = 0;
  let armCores = 0;
  for (const p of Object.values(plan.placements)) {
    placements[p.module] = { deviceId: p.deviceId, target: p.target, profileId: p.profileId };
    hostCores += p.costBreakdown.hostCores;
    armCores += p.costBreakdown.armCores;
  }
  const moves: Move[] = plan.feasible
    ? sortChain(modules)
        .map((m) => ({ m, from: current.modules[m.name], to: placements[m.name] }))
        .filter(({ from, to }) => from.deviceId !== to.deviceId || from.target !== to.target)
        .map(({ m, from, to }) => ({ module: m.name, from: { deviceId: from.deviceId, target: from.target }, to }))
    : [];
  const riskHce = RELOAD_RISK_HCE * moves.length;
  const gain = moves.length ? current.cost - plan.cost - riskHce : 0;
  return {
    ok: true,
    evaluation: {
      systemId: machine.systemId,
      hostname: machine.hostname,
      window,
      observed: Object.fromEntries(modules.map((m) => [m.name, { ...traffic[m.name], declaredPps: m.traffic.pps }])),
      current,
      best: {
        feasible: plan.feasible,
        cost: plan.cost,
        hostCores,
        armCores,
        placements,
        flavourSwitches: plan.flavourSwitches,
        infeasible: plan.infeasible.map((i) => `${i.module}: ${i.constraint}: ${i.message}`),
      },
      moves,
      riskHce,
      gain,
      relativeGain: current.cost > 0 ? gain / current.cost : 0,
    },
  };
}
