import { STAGE_ORDER, Target } from '@ioplane/domain';
import {
  COST_WEIGHTS, CostBreakdown, costOf, devicesOf, flavoursOf, HOST_VERDICT_KEY, InfeasibleModule, latencyOf, MachinePlan, ModulePlacement,
  PlacementMachine, PlacementModule, PROGRAM_SWAP_SECONDS, RejectCode, Rejection, sortChain, trafficFor, usageOf,
} from '@ioplane/placement';

/** What the bench prints about the baseline, so the speedup is read against the right thing. */
export const BASELINE_DESCRIPTION =
  'filter-and-score per machine, no caching: for each module in chain order, every (device, firmware flavour, target) is ' +
  'filtered (pin, verifier verdict, latency budget, device throughput, chain order, device flavour, remaining capacity and ' +
  'host-core budget after earlier picks), the feasible ones scored with the engine\'s costOf/usageOf, the cheapest taken; ' +
  'output is a full MachinePlan per machine with reasons and every rejected target\'s code and message (greedy: may dead-end)';

type Acc = { slots: number; instructions: number; mapMemoryBytes: number; flowRules: number; throughput: number; arm: number };
const KINDS: (keyof Acc)[] = ['slots', 'instructions', 'mapMemoryBytes', 'flowRules', 'throughput', 'arm'];
const STAGE_NAME = ['NIC', 'DPU', 'host'];
const TOL = 1e-9;

function fmt(x: number): string {
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 1 ? x.toFixed(2) : x.toFixed(4);
}

function describe(b: CostBreakdown): string {
  const parts = [`${fmt(b.total)} hce`];
  if (b.hostCores) parts.push(`${fmt(b.hostCores)} host cores`);
  if (b.armCores) parts.push(`${fmt(b.armCores)} Arm cores`);
  if (b.deviceUtilisation) parts.push(`${fmt(100 * b.deviceUtilisation)} % of device packet budget`);
  parts.push(`${fmt(b.latencyUs)} us added`);
  if (b.migrationSeconds) parts.push(`${fmt(b.migrationSeconds)} s migration`);
  if (b.preferPenalty) parts.push(`${fmt(b.preferPenalty)} hce off-preference`);
  return parts.join(', ');
}

interface Option {
  deviceId: string;
  flavourIndex: number;
  profileId: string;
  target: Target;
  usage: ReturnType<typeof usageOf>;
  breakdown: CostBreakdown;
  /** breakdown.total plus the one-off firmware switch when this option needs one. */
  cost: number;
}

/**
 * The straightforward scheduler the issue compares against ("per module, per machine: filter
 * feasible targets, score, take the best, no caching"). It does the same job as the engine for one
 * machine at a time, with the engine's own cost model (usageOf, costOf, latencyOf, the verdict
 * lookup) and the same feasibility rules, and it explains itself the same way (chosen target with
 * reasons, every other target with a reject code and message), because a plan without reasons is
 * not what the engine is asked for. It is greedy in chain order: no look-ahead and no revision, so
 * it can dead-end where a plan exists (then the machine's plan is infeasible, naming the module).
 */
export function baselinePlan(machine: PlacementMachine, modules: readonly PlacementModule[]): MachinePlan {
  const devices = devicesOf(machine);
  const used = new Map<string, Acc>();
  const flavourOf = new Map<string, number>();
  const placements: Record<string, ModulePlacement> = {};
  const switches: Record<string, string> = {};
  let hostCores = 0;
  let stage = 0;
  let stageSetBy: { module: string; target: Target } | null = null;
  let total = 0;

  for (const m of sortChain(modules)) {
    const traffic = trafficFor(machine, m);
    const current = machine.currentPlacement[m.name];
    const options: Option[] = [];
    const rejected: Rejection[] = [];
    for (const d of devices) {
      const acc = used.get(d.id) ?? { slots: 0, instructions: 0, mapMemoryBytes: 0, flowRules: 0, throughput: 0, arm: 0 };
      flavoursOf(d).forEach((f, fi) => {
        for (const target of f.targets) {
          const reject = (code: RejectCode, message: string) => rejected.push({ deviceId: d.id, target, code, message });
          if (m.pin !== undefined && m.pin !== target && m.pin !== d.id) {
            reject('pin', `module is pinned to ${m.pin}`);
            continue;
          }
          const v = m.verdicts[f.profileId] ?? (target.startsWith('host-') ? m.verdicts[HOST_VERDICT_KEY] : undefined);
          if (!v) {
            reject('no_verdict', `no verifier verdict for profile ${f.profileId}`);
            continue;
          }
          if (!v.acceptedTargets.includes(target)) {
            const why = v.reasons.filter((r) => !r.target || r.target === target).map((r) => `${r.code}: ${r.message}`);
            reject('verifier', `verifier (${f.profileId}) refuses ${target}: ${why.join('; ') || 'not accepted'}`);
            continue;
          }
          const latency = latencyOf(f, target);
          if (latency > m.latencyBudgetUs) {
            reject('latency', `adds ${latency} us, over the ${m.latencyBudgetUs} us budget`);
            continue;
          }
          const u = usageOf(m, traffic, f, target);
          if (u.throughput > 1 + TOL || u.arm > 1 + TOL) {
            reject('throughput', `${target} on ${f.profileId} sustains ${fmt(traffic.pps / Math.max(u.throughput, u.arm) / 1e6)} Mpps, below ${fmt(traffic.pps / 1e6)} Mpps`);
            continue;
          }
          if (STAGE_ORDER[target] < stage) {
            reject('chain_order', `earlier module ${stageSetBy?.module} runs on the ${STAGE_NAME[stage]} (${stageSetBy?.target}); packets never go back to the ${STAGE_NAME[STAGE_ORDER[target]]}`);
            continue;
          }
          const fNow = flavourOf.get(d.id);
          if (fNow !== undefined && fNow !== fi) {
            reject('flavour', `needs firmware ${f.profileId} but an earlier module keeps the device on ${flavoursOf(d)[fNow].profileId}`);
            continue;
          }
          const caps: Acc = { slots: f.programSlotsPerPort * f.ports, instructions: f.maxInstructions, mapMemoryBytes: f.mapMemoryBytes, flowRules: f.flowRules, throughput: 1, arm: 1 };
          const full = KINDS.find((k) => u[k] > 0 && acc[k] + u[k] > caps[k] * (1 + TOL) + TOL);
          if (full) {
            reject('capacity', `${full} on ${d.id}: earlier modules use ${fmt(acc[full])}, this needs ${fmt(u[full])}, capacity ${fmt(caps[full])}`);
            continue;
          }
          if (u.hostCores > 0 && hostCores + u.hostCores > machine.hostCoreBudget * (1 + TOL) + TOL) {
            reject('capacity', `host-core budget: earlier modules use ${fmt(hostCores)}, this needs ${fmt(u.hostCores)} host cores, budget ${fmt(machine.hostCoreBudget)}`);
            continue;
          }
          const moved = current !== undefined && (current.deviceId !== d.id || current.target !== target);
          const breakdown = costOf(m, u, latency, target, moved ? PROGRAM_SWAP_SECONDS : 0);
          const switchCost = fi > 0 && fNow === undefined ? COST_WEIGHTS.migrationSecond * f.switchSeconds : 0;
          options.push({ deviceId: d.id, flavourIndex: fi, profileId: f.profileId, target, usage: u, breakdown, cost: breakdown.total + switchCost });
        }
      });
    }

    if (options.length === 0) {
      const counts = new Map<string, number>();
      for (const r of rejected) counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
      const constraint = [...counts.entries()].sort((x, y) => y[1] - x[1])[0]?.[0] ?? 'no_target';
      const message = rejected.map((r) => `${r.target} on ${r.deviceId}: ${r.code}: ${r.message}`).join(' | ') || 'no device on this machine offers any target';
      const infeasible: InfeasibleModule[] = [{ module: m.name, constraint, message }];
      return { systemId: machine.systemId, hostname: machine.hostname, feasible: false, placements: {}, infeasible, cost: Infinity, lowerBound: 0, flavourSwitches: {}, solver: 'heuristic' };
    }

    let best = options[0];
    for (const o of options) if (o.cost < best.cost) best = o;
    for (const o of options) {
      if (o === best) continue;
      const delta = o.cost - best.cost;
      rejected.push({ deviceId: o.deviceId, target: o.target, code: 'cost', message: `feasible but costs ${fmt(delta)} hce more (${describe(o.breakdown)})`, costDelta: delta });
    }
    const reasons = [`${best.target} on ${best.deviceId} (${best.profileId}): ${describe(best.breakdown)}`, 'cheapest target that fits after the modules placed before it'];
    if (m.pin !== undefined) reasons.push(`pinned to ${m.pin}`);
    if (m.prefer !== 'auto') reasons.push(best.breakdown.preferPenalty ? `off the preferred ${m.prefer} tier (no feasible ${m.prefer} target or it costs more)` : `matches prefer=${m.prefer}`);
    if (m.costEstimated) reasons.push('host ns/packet is an estimate, not a measurement');
    if (current && current.deviceId === best.deviceId && current.target === best.target) reasons.push('already running here: no migration');
    else if (current) reasons.push(`moves from ${current.target} on ${current.deviceId}: program swap`);
    if (best.flavourIndex > 0 && flavourOf.get(best.deviceId) === undefined) reasons.push(`needs firmware flavour ${best.profileId}`);

    const acc = used.get(best.deviceId) ?? { slots: 0, instructions: 0, mapMemoryBytes: 0, flowRules: 0, throughput: 0, arm: 0 };
    for (const k of KINDS) acc[k] += best.usage[k];
    used.set(best.deviceId, acc);
    hostCores += best.usage.hostCores;
    if (!flavourOf.has(best.deviceId)) flavourOf.set(best.deviceId, best.flavourIndex);
    if (best.flavourIndex > 0) switches[best.deviceId] = best.profileId;
    stage = STAGE_ORDER[best.target];
    stageSetBy = { module: m.name, target: best.target };
    total += best.cost;
    placements[m.name] = { module: m.name, deviceId: best.deviceId, target: best.target, profileId: best.profileId, costBreakdown: best.breakdown, reasons, rejected };
  }
  // No bound is computed (greedy): 0 is the trivial valid lower bound, as every cost is >= 0.
  return { systemId: machine.systemId, hostname: machine.hostname, feasible: true, placements, infeasible: [], cost: total, lowerBound: 0, flavourSwitches: switches, solver: 'heuristic' };
}
