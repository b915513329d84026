import { STAGE_ORDER } from '@ioplane/domain';
import { flavoursOf, isFlowTarget, latencyOf, usageOf } from './cost.model';
import { devicesOf, sortChain, trafficFor } from './machine.problem';
import { HOST_VERDICT_KEY, MachinePlan, PlacementMachine, PlacementModule } from './placement.model';

export interface PlanViolation {
  module?: string;
  deviceId?: string;
  constraint: string;
  message: string;
}

const TOL = 1e-9;

/**
 * Check a machine plan against the raw input, independently of the solver's data structures:
 * every module placed, verifier acceptance, pins, latency, chain order, one firmware flavour per
 * device, and every shared capacity at the machine's actual traffic. Empty means valid; an
 * infeasible plan is valid when it places nothing and names why.
 */
export function validatePlan(machine: PlacementMachine, modules: readonly PlacementModule[], plan: MachinePlan): PlanViolation[] {
  const out: PlanViolation[] = [];
  const chain = sortChain(modules);
  if (!plan.feasible) {
    if (Object.keys(plan.placements).length > 0) out.push({ constraint: 'partial', message: 'infeasible plan carries placements' });
    if (plan.infeasible.length === 0) out.push({ constraint: 'unexplained', message: 'infeasible plan names no blocking constraint' });
    return out;
  }
  const devices = new Map(devicesOf(machine).map((d) => [d.id, d]));
  type Acc = { slots: number; instructions: number; mapMemoryBytes: number; flowRules: number; throughput: number; arm: number };
  const acc = new Map<string, Acc>();
  const flavourOf = new Map<string, string>();
  let hostCores = 0;
  let stage = -1;
  for (const m of chain) {
    const pl = plan.placements[m.name];
    if (!pl) {
      out.push({ module: m.name, constraint: 'missing', message: 'module has no placement in a feasible plan' });
      continue;
    }
    const d = devices.get(pl.deviceId);
    if (!d) {
      out.push({ module: m.name, constraint: 'device', message: `unknown device ${pl.deviceId}` });
      continue;
    }
    const profileId = plan.flavourSwitches[d.id] ?? flavoursOf(d)[0]?.profileId;
    const flavour = flavoursOf(d).find((f) => f.profileId === profileId);
    if (!flavour || !flavour.targets.includes(pl.target)) {
      out.push({ module: m.name, deviceId: d.id, constraint: 'target', message: `${pl.target} not offered by ${profileId}` });
      continue;
    }
    const prev = flavourOf.get(d.id);
    if (prev && prev !== flavour.profileId) out.push({ module: m.name, deviceId: d.id, constraint: 'flavour', message: `device needs both ${prev} and ${flavour.profileId}` });
    flavourOf.set(d.id, flavour.profileId);
    const verdict = m.verdicts[flavour.profileId] ?? (pl.target.startsWith('host-') ? m.verdicts[HOST_VERDICT_KEY] : undefined);
    if (!verdict?.acceptedTargets.includes(pl.target)) out.push({ module: m.name, deviceId: d.id, constraint: 'verifier', message: `${pl.target} not accepted by the verifier` });
    if (m.pin !== undefined && m.pin !== pl.target && m.pin !== d.id) out.push({ module: m.name, constraint: 'pin', message: `pinned to ${m.pin}` });
    if (latencyOf(flavour, pl.target) > m.latencyBudgetUs + TOL) out.push({ module: m.name, constraint: 'latency', message: 'latency over budget' });
    const s = STAGE_ORDER[pl.target];
    if (s < stage) out.push({ module: m.name, constraint: 'chain_order', message: `${pl.target} after a later stage` });
    stage = Math.max(stage, s);
    const u = usageOf(m, trafficFor(machine, m), flavour, pl.target);
    const a = acc.get(d.id) ?? { slots: 0, instructions: 0, mapMemoryBytes: 0, flowRules: 0, throughput: 0, arm: 0 };
    a.slots += isFlowTarget(pl.target) ? 0 : 1;
    a.instructions += u.instructions;
    a.mapMemoryBytes += u.mapMemoryBytes;
    a.flowRules += u.flowRules;
    a.throughput += u.throughput;
    a.arm += u.arm;
    acc.set(d.id, a);
    hostCores += u.hostCores;
  }
  for (const [id, a] of acc) {
    const d = devices.get(id)!;
    const f = flavoursOf(d).find((x) => x.profileId === flavourOf.get(id))!;
    const caps: [keyof Acc, number][] = [
      ['slots', f.programSlotsPerPort * f.ports], ['instructions', f.maxInstructions], ['mapMemoryBytes', f.mapMemoryBytes],
      ['flowRules', f.flowRules], ['throughput', 1], ['arm', 1],
    ];
    for (const [k, cap] of caps) {
      if (a[k] > cap * (1 + 1e-6) + TOL) out.push({ deviceId: id, constraint: k, message: `${k} ${a[k]} over capacity ${cap} on ${id}` });
    }
  }
  if (hostCores > machine.hostCoreBudget * (1 + 1e-6) + TOL) out.push({ constraint: 'hostCores', message: `${hostCores} host cores over the budget ${machine.hostCoreBudget}` });
  for (const name of Object.keys(plan.placements)) {
    if (!chain.some((m) => m.name === name)) out.push({ module: name, constraint: 'unknown', message: 'placement for a module not requested' });
  }
  return out;
}
