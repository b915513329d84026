import { EXCLUSIVE_HOOKS, Hook, HOOK_POSITION, Target, TARGETS } from '@ioplane/domain';
import { flavoursOf } from './cost.model';
import { breakdownOf, Candidate, follows, MachineProblem, RawRejection, Resource } from './machine.problem';
import { costWords, deviceToken, flat, fmt, unitOf } from './plan.words';
import type { Assignment } from './plan.evaluate';
import { doubleArray } from './exact.solver';
import { CostBreakdown, DeviceFlavour, InfeasibleModule, PlacementModule, RejectCode } from './placement.model';

/**
 * The hook positions as a local binding: an imported one is read through a getter on every use
 * (CommonJS re-exports), and these are read for every option of every machine.
 */
const POSITION = HOOK_POSITION;

/** A decision with devices as indices, shared by every machine of an equivalence class. */
export interface DecisionTemplate {
  module: string;
  /** Row of the problem (a module on one port). */
  row: number;
  deviceIndex: number;
  target: Target;
  hook: Hook;
  profileId: string | null;
  costBreakdown: CostBreakdown;
  reasons: string[];
  rejected: { deviceIndex: number; target: Target; hook: Hook; code: RejectCode; message: string; costDelta?: number }[];
}

function exclusiveWith(a: Hook, b: Hook): boolean {
  return EXCLUSIVE_HOOKS.some(([x, y]) => (x === a && y === b) || (x === b && y === a));
}

/**
 * Candidates are shared by every class with the same traffic filter, so each one's breakdown is put
 * into words once, on the candidate, for all of them.
 */
function describe(c: Candidate): string {
  const f = c.figures;
  return (c.described ??= costWords(f[0], f[1], f[2], f[3], f[4], f[5], f[6]));
}

/**
 * The chosen plan's totals, so each alternative is judged by what changes (one module moves)
 * instead of re-evaluating the whole chain: a fleet plan explains thousands of alternatives.
 */
interface PlanTotals {
  used: number[];
  /** Modules of the plan on each device. */
  users: number[];
}

function totalsOf(p: MachineProblem, a: Assignment): PlanTotals {
  const used = doubleArray(p.resources.length);
  const users = new Array<number>(p.devices.length).fill(0);
  for (let j = 0; j < a.length; j++) {
    const o = p.candidates[j][a[j]];
    users[o.deviceIndex]++;
    for (let t = 0; t < o.res.length; t++) used[o.res[t]] += o.amt[t];
  }
  return { used, users };
}

/** Amount the chosen candidate puts on resource r (0 when it does not use it). */
function amountOn(c: Candidate, r: number): number {
  for (let t = 0; t < c.res.length; t++) if (c.res[t] === r) return c.amt[t];
  return 0;
}

type Rejected = DecisionTemplate['rejected'][number];

/**
 * A refusal kept as the numbers it is made of and worded when its message is first read (explain,
 * API, CLI): a fleet plan explains every alternative of every module of every machine, and most
 * of those words are never shown.
 */
class Refusal {
  private text: string | undefined;
  costDelta?: number;

  constructor(
    readonly deviceIndex: number,
    readonly target: Target,
    readonly hook: Hook,
    readonly code: RejectCode,
    /**
     * exclusive: the holder's hook; capacity: the resource; cost: the candidate; chain_order: the
     * neighbour's candidate; flavour: the device's flavours.
     */
    private readonly ref: string | Resource | Candidate | readonly DeviceFlavour[],
    /** exclusive, chain_order, flavour: the neighbouring or holding module; capacity and cost: unused. */
    private readonly who: string,
    /**
     * exclusive: 1 when the hooks are exclusive per netdev; capacity: others' use; cost: the delta;
     * chain_order: -1 when the neighbour runs earlier, 1 later; flavour: the holder's flavour.
     */
    private readonly x: number,
    /** capacity: this candidate's use; chain_order: this candidate's stage; flavour: its flavour. */
    private readonly y: number,
  ) {
    if (code === 'cost') this.costDelta = x;
  }

  get message(): string {
    if (this.text !== undefined) return this.text;
    let t: string;
    if (this.code === 'chain_order') {
      const by = this.ref as Candidate;
      t =
        this.x < 0
          ? `earlier module ${this.who} runs at ${by.hook} (position ${by.stage}); packets never go back to ${this.hook} (position ${this.y})`
          : `later module ${this.who} runs at ${by.hook} (position ${by.stage}), before ${this.hook} (position ${this.y}) in the packet path`;
    } else if (this.code === 'flavour') {
      const flavours = this.ref as readonly DeviceFlavour[];
      t = `needs firmware ${flavours[this.y].profileId} but ${this.who} keeps the device on ${flavours[this.x].profileId}`;
    } else if (this.code === 'exclusive') {
      const why =
        this.x === 1
          ? 'one of the two per netdev'
          : "the agent loads one chain per device port, so the card's hooks of a port cannot both hold modules";
      t = `${this.who} holds ${this.ref as string} on this port, and ${this.hook} cannot be attached beside it (${why})`;
    } else if (this.code === 'cost') {
      t = `feasible but costs ${fmt(this.x)} hce more (${describe(this.ref as Candidate)})`;
    } else {
      const r = this.ref as Resource;
      t = `${r.label}: other modules use ${fmt(this.x)}, this needs ${fmt(this.y)} ${unitOf(r.kind)}, capacity ${fmt(r.capacity)}`;
    }
    return (this.text = flat(t));
  }
}

/** Why a feasible alternative was not taken, given the rest of the plan stays as it is. */
function whyNot(p: MachineProblem, a: Assignment, i: number, k: number, totals: PlanTotals): Rejected {
  const c = p.candidates[i][k];
  const chosen = p.candidates[i][a[i]];
  const prev = i > 0 && !p.chainStart[i] ? p.candidates[i - 1][a[i - 1]] : null;
  const next = i + 1 < a.length && !p.chainStart[i + 1] ? p.candidates[i + 1][a[i + 1]] : null;
  if (prev && c.stage < prev.stage)
    return new Refusal(c.deviceIndex, c.target, c.hook, 'chain_order', prev, p.modules[i - 1].name, -1, c.stage);
  if (next && c.stage > next.stage)
    return new Refusal(c.deviceIndex, c.target, c.hook, 'chain_order', next, p.modules[i + 1].name, 1, c.stage);
  const clash = (prev && !follows(prev.stage, c.stage, p.allowed) && prev) || (next && !follows(c.stage, next.stage, p.allowed) && next);
  if (clash) {
    const who = clash === prev ? p.modules[i - 1].name : p.modules[i + 1].name;
    return new Refusal(c.deviceIndex, c.target, c.hook, 'exclusive', clash.hook, who, exclusiveWith(clash.hook, c.hook) ? 1 : 0, 0);
  }
  // Other modules on the alternative's device (the plan is consistent, so they share one flavour).
  const othersOnDevice = totals.users[c.deviceIndex] - (chosen.deviceIndex === c.deviceIndex ? 1 : 0);
  if (othersOnDevice > 0) {
    let holder = -1;
    for (let j = 0; j < a.length && holder < 0; j++) if (j !== i && p.candidates[j][a[j]].deviceIndex === c.deviceIndex) holder = j;
    const hc = p.candidates[holder][a[holder]];
    if (hc.flavourIndex !== c.flavourIndex) {
      return new Refusal(
        c.deviceIndex,
        c.target,
        c.hook,
        'flavour',
        flavoursOf(p.devices[c.deviceIndex]),
        p.modules[holder].name,
        hc.flavourIndex,
        c.flavourIndex,
      );
    }
  }
  // Capacity: name the resource and the numbers with the plan's other modules on it.
  for (let t = 0; t < c.res.length; t++) {
    const ri = c.res[t];
    const r = p.resources[ri];
    const others = totals.used[ri] - amountOn(chosen, ri);
    if (others + c.amt[t] > r.capacity * (1 + 1e-9) + 1e-9) {
      return new Refusal(c.deviceIndex, c.target, c.hook, r.kind === 'slots' ? 'slots' : 'capacity', r, '', others, c.amt[t]);
    }
  }
  // A firmware switch is charged once per device: it goes with the last module leaving a device
  // and comes with the first module arriving on one.
  const chosenAlone = totals.users[chosen.deviceIndex] === 1;
  const delta =
    c.cost -
    chosen.cost +
    (othersOnDevice === 0 ? p.switchCost[c.deviceIndex][c.flavourIndex] : 0) -
    (chosenAlone ? p.switchCost[chosen.deviceIndex][chosen.flavourIndex] : 0);
  return new Refusal(c.deviceIndex, c.target, c.hook, 'cost', c, '', delta, 0);
}

/**
 * A module's explanation depends on its own candidate list and on where every module of the plan
 * runs (neighbours' stages, shared capacities, firmware holders), not on other modules' costs. A
 * module the machine does not run yet has its candidate list shared by every class of one traffic
 * filter, so classes that differ only in what else the machine runs now, and end with the same
 * placement, share that module's explanation. Keyed by the filter's traffic rows (one array per
 * filter, shared by its problems; resource rows are shared by every filter of a machine shape), so
 * the map lives as long as the filter.
 */
const sharedTemplates = new WeakMap<MachineProblem['traffic'], Map<string, DecisionTemplate>>();

const TARGET_CODE = new Map<Target, number>(TARGETS.map((t, i) => [t, i]));

/** Where each module runs, as a short string (one character per module and field) for map keys. */
function placementKey(p: MachineProblem, a: Assignment): string {
  const codes: number[] = [];
  for (let j = 0; j < a.length; j++) {
    const c = p.candidates[j][a[j]];
    codes.push(c.deviceIndex + 1, c.flavourIndex, TARGET_CODE.get(c.target)!, c.stage);
  }
  return String.fromCharCode.apply(null, codes);
}

/** Reasons for every chosen target and for every (device, target) not chosen. */
export function explain(p: MachineProblem, a: Assignment): DecisionTemplate[] {
  let totals: PlanTotals | null = null;
  if ((p.filter?.problems ?? 2) < 2) {
    // The only problem of its filter so far: nothing to share, and the keys would cost more than the rest.
    return p.modules.map((_, i) => explainModule(p, a, i, (totals ??= totalsOf(p, a))));
  }
  const where = placementKey(p, a);
  let shared = sharedTemplates.get(p.traffic);
  return p.modules.map((m, i) => {
    const current = p.machine.currentPlacement[m.name];
    const key = current === undefined ? String.fromCharCode(i) + where : null;
    const known = key === null ? undefined : shared?.get(key);
    if (known) return known;
    totals ??= totalsOf(p, a);
    const t = explainModule(p, a, i, totals);
    if (key !== null) {
      if (!shared) sharedTemplates.set(p.traffic, (shared = new Map()));
      shared.set(key, t);
    }
    return t;
  });
}

/**
 * Reasons that depend only on one shared object (a filter rejection, a candidate, a module, a
 * firmware flavour) are worded once and the same string is kept by every template that gives
 * them: a fleet plan keeps thousands of reasons, most of them repeats.
 */
const refusalNotes = new WeakMap<RawRejection, string>();
const preferNotes = new WeakMap<PlacementModule, [onTier: string, offTier: string]>();
const flavourNotes = new WeakMap<DeviceFlavour, string>();

function refusalNote(r: RawRejection): string {
  let s = refusalNotes.get(r);
  if (s === undefined)
    refusalNotes.set(
      r,
      (s = flat(`earlier hook ${r.hook} (${r.target} on ${deviceToken(r.deviceIndex)}) refused (${r.code}): ${r.message}`)),
    );
  return s;
}

function preferNote(m: PlacementModule, off: boolean): string {
  let s = preferNotes.get(m);
  if (s === undefined) {
    s = [`matches prefer=${m.prefer}`, `off the preferred ${m.prefer} tier (no feasible ${m.prefer} target or it costs more)`];
    preferNotes.set(m, s);
  }
  return s[off ? 1 : 0];
}

function flavourNote(f: DeviceFlavour): string {
  let s = flavourNotes.get(f);
  if (s === undefined)
    flavourNotes.set(f, (s = `needs firmware flavour ${f.profileId} (${f.switchSeconds} s switch, charged once per device)`));
  return s;
}

const CHEAPEST = 'cheapest feasible target for this module';

function explainModule(p: MachineProblem, a: Assignment, i: number, totals: PlanTotals): DecisionTemplate {
  const m = p.modules[i];
  const k = a[i];
  const c = p.candidates[i][k];
  const flavour = flavoursOf(p.devices[c.deviceIndex])[c.flavourIndex];
  // Filter rejections are immutable and shared by every class that has them.
  const cands = p.candidates[i];
  const refusedByFilter = p.rejected[i];
  // Sized up front (filter rejections, then every other candidate): thousands of these are kept.
  const rejected: DecisionTemplate['rejected'] = new Array(refusedByFilter.length + cands.length - 1);
  let at = 0;
  for (const r of refusedByFilter) rejected[at++] = r;
  for (let kk = 0; kk < cands.length; kk++) {
    if (kk === k) continue;
    rejected[at++] = whyNot(p, a, i, kk, totals);
  }
  // What the chosen hook costs is the hop's costBreakdown (numbers, worded where it is shown):
  // the reasons say why this hook and not another.
  const reasons: string[] = [];
  const cheapest = cands[0];
  if (k === 0) reasons.push(CHEAPEST);
  else {
    const why = rejected.find((r) => r.deviceIndex === cheapest.deviceIndex && r.target === cheapest.target);
    reasons.push(
      flat(
        `cheaper-looking ${cheapest.target} on ${deviceToken(cheapest.deviceIndex)} (${fmt(cheapest.cost)} hce) not taken: ${why?.code}: ${why?.message}`,
      ),
    );
  }
  let refused = 0;
  for (const r of refusedByFilter) {
    if (refused === 3) break;
    if (r.code === 'pin' || POSITION[r.hook] >= c.stage) continue;
    reasons.push(refusalNote(r));
    refused++;
  }
  if (m.pin !== undefined) reasons.push(`pinned to ${m.pin}`);
  if (m.prefer !== 'auto') reasons.push(preferNote(m, c.figures[5] !== 0));
  if (m.costEstimated) reasons.push('host ns/packet is an estimate, not a measurement');
  const current = p.machine.currentPlacement[m.name];
  if (current && c.figures[4] === 0) reasons.push('already running here: no migration');
  else if (current) reasons.push(`moves from ${current.target} on ${current.deviceId}: program swap`);
  if (c.flavourIndex > 0) reasons.push(flavourNote(flavour));
  return {
    module: m.name,
    row: i,
    deviceIndex: c.deviceIndex,
    target: c.target,
    hook: c.hook,
    profileId: c.deviceIndex >= 0 ? flavour.profileId : null,
    costBreakdown: breakdownOf(c),
    reasons,
    rejected,
  };
}

/** Per module, the constraint that leaves it without any candidate. */
export function blockedModules(p: MachineProblem): InfeasibleModule[] {
  const out: InfeasibleModule[] = [];
  const seen = new Set<string>();
  p.modules.forEach((m, i) => {
    if (p.candidates[i].length > 0) return;
    // One entry per module: the first port that leaves it without a position names why.
    if (seen.has(m.name)) return;
    seen.add(m.name);
    const rs = p.rejected[i];
    const counts = new Map<string, number>();
    for (const r of rs) counts.set(r.code, (counts.get(r.code) ?? 0) + 1);
    const constraint = [...counts.entries()].sort((x, y) => y[1] - x[1])[0]?.[0] ?? 'no_target';
    const message = rs.length
      ? `on ${p.ports[p.rowPort[i]].interface}: ` +
        rs.map((r) => `${r.hook} (${r.target} on ${deviceToken(r.deviceIndex)}): ${r.code}: ${r.message}`).join(' | ')
      : `no hook on ${p.ports[p.rowPort[i]].interface}'s path offers a target`;
    out.push({ module: m.name, constraint, message });
  });
  return out;
}
