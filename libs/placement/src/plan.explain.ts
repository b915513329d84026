import { STAGE_ORDER, Target } from '@ioplane/domain';
import { flavoursOf } from './cost.model';
import { Assignment, deviceToken, evaluate, evaluationScratch, EvaluationScratch, fmt, MachineProblem, RawRejection, unitOf } from './machine.problem';
import { CostBreakdown, InfeasibleModule, RejectCode } from './placement.model';

/** A decision with devices as indices, shared by every machine of an equivalence class. */
export interface DecisionTemplate {
  module: string;
  deviceIndex: number;
  target: Target;
  profileId: string | null;
  costBreakdown: CostBreakdown;
  reasons: string[];
  rejected: { deviceIndex: number; target: Target; code: RejectCode; message: string; costDelta?: number }[];
}

const STAGE_NAME = ['NIC', 'DPU', 'host'];

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

/** Why a feasible alternative was not taken, given the rest of the plan stays as it is. */
function whyNot(p: MachineProblem, a: Assignment, i: number, k: number, cost: number, scratch: EvaluationScratch): { code: RejectCode; message: string; costDelta?: number } {
  const c = p.candidates[i][k];
  const prev = i > 0 ? p.candidates[i - 1][a[i - 1]] : null;
  const next = i + 1 < a.length ? p.candidates[i + 1][a[i + 1]] : null;
  if (prev && c.stage < prev.stage) {
    return { code: 'chain_order', message: `earlier module ${p.modules[i - 1].name} runs on the ${STAGE_NAME[prev.stage]} (${prev.target}); packets never go back to the ${STAGE_NAME[c.stage]}` };
  }
  if (next && c.stage > next.stage) {
    return { code: 'chain_order', message: `later module ${p.modules[i + 1].name} runs on the ${STAGE_NAME[next.stage]} (${next.target}), before the ${STAGE_NAME[c.stage]} in the packet path` };
  }
  // `a` is the explainer's own copy: try the alternative in place and put the choice back.
  const keep = a[i];
  a[i] = k;
  const e = evaluate(p, a, scratch);
  a[i] = keep;
  if (e.feasible) {
    const delta = e.cost - cost;
    return { code: 'cost', message: `feasible but costs ${fmt(delta)} hce more (${describe(c.breakdown)})`, costDelta: delta };
  }
  if (e.violation?.code === 'flavour') {
    const holder = a.findIndex((kk, j) => j !== i && p.candidates[j][kk].deviceIndex === c.deviceIndex);
    const hc = holder >= 0 ? p.candidates[holder][a[holder]] : null;
    const want = flavoursOf(p.devices[c.deviceIndex])[c.flavourIndex].profileId;
    const have = hc ? flavoursOf(p.devices[c.deviceIndex])[hc.flavourIndex].profileId : '?';
    return { code: 'flavour', message: `needs firmware ${want} but ${hc ? p.modules[holder].name : 'another module'} keeps the device on ${have}` };
  }
  // Capacity: name the resource and the numbers with the plan's other modules on it.
  const used = new Float64Array(p.resources.length);
  a.forEach((kk, j) => {
    if (j === i) return;
    const o = p.candidates[j][kk];
    o.res.forEach((r, t) => (used[r] += o.amt[t]));
  });
  for (let t = 0; t < c.res.length; t++) {
    const r = p.resources[c.res[t]];
    if (used[c.res[t]] + c.amt[t] > r.capacity * (1 + 1e-9) + 1e-9) {
      return { code: 'capacity', message: `${r.label}: other modules use ${fmt(used[c.res[t]])}, this needs ${fmt(c.amt[t])} ${unitOf(r.kind)}, capacity ${fmt(r.capacity)}` };
    }
  }
  return { code: 'capacity', message: e.violation?.message ?? 'does not fit with the rest of the plan' };
}

function rawRejections(rs: RawRejection[]) {
  return rs.map((r) => ({ deviceIndex: r.deviceIndex, target: r.target, code: r.code, message: r.message }));
}

/** Reasons for every chosen target and for every (device, target) not chosen. */
export function explain(p: MachineProblem, a: Assignment, cost: number): DecisionTemplate[] {
  a = Int32Array.from(a);
  const scratch = evaluationScratch(p);
  return p.modules.map((m, i) => {
    const k = a[i];
    const c = p.candidates[i][k];
    const flavour = flavoursOf(p.devices[c.deviceIndex])[c.flavourIndex];
    const rejected: DecisionTemplate['rejected'] = rawRejections(p.rejected[i]);
    p.candidates[i].forEach((_, kk) => {
      if (kk === k) return;
      const alt = p.candidates[i][kk];
      rejected.push({ deviceIndex: alt.deviceIndex, target: alt.target, ...whyNot(p, a, i, kk, cost, scratch) });
    });
    const reasons = [`${c.target} on ${deviceToken(c.deviceIndex)} (${flavour.profileId}): ${describe(c.breakdown)}`];
    const cheapest = p.candidates[i][0];
    if (k === 0) reasons.push('cheapest feasible target for this module');
    else {
      const why = rejected.find((r) => r.deviceIndex === cheapest.deviceIndex && r.target === cheapest.target);
      reasons.push(`cheaper-looking ${cheapest.target} on ${deviceToken(cheapest.deviceIndex)} (${fmt(cheapest.cost)} hce) not taken: ${why?.code}: ${why?.message}`);
    }
    const refusedCheaper = p.rejected[i].filter((r) => r.code !== 'pin' && STAGE_ORDER[r.target] < c.stage);
    for (const r of refusedCheaper.slice(0, 3)) reasons.push(`offload ${r.target} on ${deviceToken(r.deviceIndex)} refused (${r.code}): ${r.message}`);
    if (m.pin !== undefined) reasons.push(`pinned to ${m.pin}`);
    if (m.prefer !== 'auto') reasons.push(c.breakdown.preferPenalty ? `off the preferred ${m.prefer} tier (no feasible ${m.prefer} target or it costs more)` : `matches prefer=${m.prefer}`);
    if (m.costEstimated) reasons.push('host ns/packet is an estimate, not a measurement');
    const current = p.machine.currentPlacement[m.name];
    if (current && current.deviceId === p.devices[c.deviceIndex].id && current.target === c.target) reasons.push('already running here: no migration');
    else if (current) reasons.push(`moves from ${current.target} on ${current.deviceId}: program swap`);
    if (c.flavourIndex > 0) reasons.push(`needs firmware flavour ${flavour.profileId} (${flavour.switchSeconds} s switch, charged once per device)`);
    return { module: m.name, deviceIndex: c.deviceIndex, target: c.target, profileId: c.deviceIndex >= 0 ? flavour.profileId : null, costBreakdown: c.breakdown, reasons, rejected };
  });
}

/** Per module, the constraint that leaves it without any candidate. */
export function blockedModules(p: MachineProblem): InfeasibleModule[] {
  const out: InfeasibleModule[] = [];
  p.modules.forEach((m, i) => {
    if (p.candidates[i].length > 0) return;
    const rs = p.rejected[i];
    const counts = new Map<string, number>();
    for (const r of rs) counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
    const constraint = [...counts.entries()].sort((x, y) => y[1] - x[1])[0]?.[0] ?? 'no_target';
    const message = rs.length
      ? rs.map((r) => `${r.target} on ${deviceToken(r.deviceIndex)}: ${r.code}: ${r.message}`).join(' | ')
      : 'no device on this machine offers any target';
    out.push({ module: m.name, constraint, message });
  });
  return out;
}
