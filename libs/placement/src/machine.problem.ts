import { STAGE_ORDER, TARGETS, Target } from '@ioplane/domain';
import { CostFigures, costFigures, emptyUsage, flavoursOf, latencyOf, refigure, usageOf, Usage, breakdownFrom } from './cost.model';
import {
  COST_WEIGHTS,
  CostBreakdown,
  DeviceFlavour,
  HOST_VERDICT_KEY,
  PROGRAM_SWAP_SECONDS,
  PlacementDevice,
  PlacementMachine,
  PlacementModule,
  RejectCode,
  TrafficDemand,
} from './placement.model';

/** One (device, flavour, target) a module may take, with its cost and resource use. */
export interface Candidate {
  deviceIndex: number;
  flavourIndex: number;
  target: Target;
  stage: number;
  /** hce, without the one-off flavour switch (charged per device). */
  cost: number;
  /** The cost's parts, packed (see costFigures); breakdownOf makes the object when it is shown. */
  figures: CostFigures;
  breakdown?: CostBreakdown;
  res: number[];
  amt: number[];
  /** The breakdown in words, and the reason given when it is chosen: filled on first use by the explainer. */
  described?: string;
  asChosen?: string;
}

export interface RawRejection {
  deviceIndex: number;
  target: Target;
  code: RejectCode;
  message: string;
}

export type ResourceKind = keyof Omit<Usage, 'armCores'>;

export interface Resource {
  kind: ResourceKind;
  /** -1 for the machine-wide host-core budget. */
  deviceIndex: number;
  flavourIndex: number;
  capacity: number;
  label: string;
}

/** A machine's placement as numbers: every solver and explainer works on this. */
export interface MachineProblem {
  machine: PlacementMachine;
  devices: PlacementDevice[];
  /** Sorted by chain position. */
  modules: PlacementModule[];
  traffic: TrafficDemand[];
  /** Shared with the traffic filter and other classes: never mutated. */
  candidates: readonly (readonly Candidate[])[];
  rejected: readonly (readonly RawRejection[])[];
  resources: Resource[];
  /** Per device, per flavour: hce charged once when the plan uses a flavour other than flavour 0. */
  switchCost: number[][];
}

/** Per-device kinds first, then the machine-wide host-core budget (the order resource rows are made in). */
const KINDS: readonly ResourceKind[] = ['slots', 'instructions', 'mapMemoryBytes', 'flowRules', 'throughput', 'arm', 'hostCores'];
const KIND_INDEX = Object.fromEntries(KINDS.map((k, i) => [k, i])) as Record<ResourceKind, number>;

function capacityOf(f: DeviceFlavour, kind: ResourceKind): number {
  switch (kind) {
    case 'slots': return f.programSlotsPerPort * f.ports;
    case 'instructions': return f.maxInstructions;
    case 'mapMemoryBytes': return f.mapMemoryBytes;
    case 'flowRules': return f.flowRules;
    default: return 1;
  }
}

const UNIT: Record<ResourceKind, string> = {
  slots: 'program slots', instructions: 'instructions', mapMemoryBytes: 'map bytes', flowRules: 'flow rules',
  throughput: 'of packet budget', arm: 'of Arm cores', hostCores: 'host cores',
};

/** The candidate's cost breakdown as shown in plans, made once per candidate. */
export function breakdownOf(c: Candidate): CostBreakdown {
  return (c.breakdown ??= breakdownFrom(c.figures));
}

/** Device ids appear in messages as `{device:N}` so one explanation serves every machine of a class. */
const TOKENS: string[] = [];

export function deviceToken(d: number): string {
  return (TOKENS[d + 1] ??= `{device:${d}}`);
}

export function bindDevices(message: string, ids: readonly string[]): string {
  return message.indexOf('{device:') < 0 ? message : message.replace(/\{device:(\d+)\}/g, (_, i: string) => ids[Number(i)] ?? `device ${i}`);
}

/** Labels only depend on (kind, device index): made once, not per problem. */
const LABELS: string[][] = [];

export function resourceLabel(kind: ResourceKind, d: number): string {
  const row = (LABELS[KIND_INDEX[kind]] ??= []);
  return (row[d + 1] ??= d >= 0 ? `${kind} on ${deviceToken(d)}` : 'host-core budget');
}

export function unitOf(kind: ResourceKind): string {
  return UNIT[kind];
}

/** The host CPU device the machine lists, or one synthesised so generic XDP is always a candidate. */
export function devicesOf(machine: PlacementMachine): PlacementDevice[] {
  if (machine.devices.some((d) => d.kind === 'host-cpu')) return machine.devices;
  return [...machine.devices, { id: `${machine.systemId}/cpu`, kind: 'host-cpu', flavours: [] }];
}

export function trafficFor(machine: PlacementMachine, m: PlacementModule): TrafficDemand {
  return machine.traffic?.[m.name] ?? m.traffic;
}

function isTarget(s: string): s is Target {
  return (TARGETS as readonly string[]).includes(s);
}

/** The verdict for the flavour's own profile; host targets fall back to the host kernel's verdict. */
function verdictFor(m: PlacementModule, flavour: DeviceFlavour, target: Target) {
  return m.verdicts[flavour.profileId] ?? (target.startsWith('host-') ? m.verdicts[HOST_VERDICT_KEY] : undefined);
}

/** Chain order: by position, ties by name so the order never depends on input order. */
export function sortChain<T extends { chainPosition: number; name: string }>(modules: readonly T[]): T[] {
  return [...modules].sort((a, b) => a.chainPosition - b.chainPosition || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * What one (device, flavour, target) is for one module before traffic is known: refused (pin,
 * verdict, latency; the rejection is final and shared) or passed with its latency.
 */
export interface StaticOption {
  deviceIndex: number;
  flavourIndex: number;
  target: Target;
  latency: number;
  rejection: RawRejection | null;
}

/** Per module (chain order), every (device, flavour, target) in the order candidates are made. */
export type StaticFilter = StaticOption[][];

/**
 * The traffic-independent half of building a problem: it depends only on the modules, the devices'
 * profiles and where device pins point, so machines that differ only in traffic or current
 * placement (most classes of a fleet) share it.
 */
export function staticFilter(sorted: readonly PlacementModule[], devices: readonly PlacementDevice[]): StaticFilter {
  const out: StaticFilter = [];
  for (const m of sorted) {
    const opts: StaticOption[] = [];
    const pin = m.pin;
    const pinTarget = pin !== undefined && isTarget(pin);
    for (let di = 0; di < devices.length; di++) {
      const device = devices[di];
      const flavours = flavoursOf(device);
      for (let fi = 0; fi < flavours.length; fi++) {
        const flavour = flavours[fi];
        for (const target of flavour.targets) {
          const refuse = (code: RejectCode, message: string) => opts.push({ deviceIndex: di, flavourIndex: fi, target, latency: 0, rejection: { deviceIndex: di, target, code, message } });
          if (pin !== undefined && (pinTarget ? pin !== target : pin !== device.id)) {
            refuse('pin', `module is pinned to ${pin}`);
            continue;
          }
          const v = verdictFor(m, flavour, target);
          if (!v) {
            refuse('no_verdict', `no verifier verdict for profile ${flavour.profileId}`);
            continue;
          }
          if (!v.acceptedTargets.includes(target)) {
            const why = v.reasons.filter((r) => !r.target || r.target === target).map((r) => `${r.code}: ${r.message}`);
            refuse('verifier', `verifier (${flavour.profileId}) refuses ${target}: ${why.join('; ') || 'not accepted'}`);
            continue;
          }
          const latency = latencyOf(flavour, target);
          if (latency > m.latencyBudgetUs) {
            refuse('latency', `adds ${latency} us, over the ${m.latencyBudgetUs} us budget`);
            continue;
          }
          opts.push({ deviceIndex: di, flavourIndex: fi, target, latency, rejection: null });
        }
      }
    }
    out.push(opts);
  }
  return out;
}

/**
 * Build the per-machine problem. `trafficOverride` replaces per-module traffic (equivalence
 * classes solve at the bucket's upper edge so the plan stays feasible for every member).
 */
export function buildProblem(machine: PlacementMachine, modules: readonly PlacementModule[], trafficOverride?: TrafficDemand[]): MachineProblem {
  const sorted = sortChain(modules);
  const devices = devicesOf(machine);
  return buildFiltered(machine, sorted, devices, staticFilter(sorted, devices), trafficOverride);
}

/** One module's traffic-dependent outcome, before any migration cost (which depends on the machine's current placement). */
interface ModuleOptions {
  /** Sorted by cost (stable, ties in the order they were made), as problems list candidates. */
  sorted: Candidate[];
  rejected: RawRejection[];
}

/**
 * Everything of a problem that traffic decides (throughput and capacity checks, resource rows,
 * costs without migration). Machines of one hardware, budget and traffic bucket that differ only
 * in what they run now share it; only the modules they run get their costs redone.
 */
export interface TrafficFilter {
  traffic: TrafficDemand[];
  resources: Resource[];
  switchCost: number[][];
  modules: ModuleOptions[];
}

export function trafficFilter(
  hostCoreBudget: number, sorted: readonly PlacementModule[], devices: readonly PlacementDevice[], statics: StaticFilter, traffic: TrafficDemand[],
): TrafficFilter {
  const resources: Resource[] = [];
  // Resource rows are looked up by (kind, device, flavour) as one small integer: this runs for
  // every candidate of every class a fleet plan solves, so no string keys here.
  const flavourCount = devices.reduce((n, d) => Math.max(n, flavoursOf(d).length), 1);
  const resIndex = new Array<number>(KINDS.length * (devices.length + 1) * flavourCount).fill(-1);
  const resourceFor = (kind: ResourceKind, d: number, fi: number): number => {
    // The host-core budget is one machine-wide row, whatever flavour the candidate's device runs.
    const f = d < 0 ? 0 : fi;
    const key = (KIND_INDEX[kind] * (devices.length + 1) + d + 1) * flavourCount + f;
    let i = resIndex[key];
    if (i < 0) {
      const cap = d < 0 ? hostCoreBudget : capacityOf(flavoursOf(devices[d])[f], kind);
      i = resources.push({ kind, deviceIndex: d, flavourIndex: f, capacity: cap, label: resourceLabel(kind, d) }) - 1;
      resIndex[key] = i;
    }
    return i;
  };
  const switchCost = devices.map((d) => flavoursOf(d).map((f, i) => (i === 0 ? 0 : COST_WEIGHTS.migrationSecond * f.switchSeconds)));
  const modules: ModuleOptions[] = [];
  const usage = emptyUsage();
  const resScratch: number[] = KINDS.map(() => 0);
  const amtScratch: number[] = KINDS.map(() => 0.5);
  // Candidates of one filter that use the same rows share one (read-only) list of row indices.
  const rowLists: number[][] = [];
  const sharedRows = (n: number): number[] => {
    search: for (let l = 0; l < rowLists.length; l++) {
      const list = rowLists[l];
      if (list.length !== n) continue;
      for (let t = 0; t < n; t++) if (list[t] !== resScratch[t]) continue search;
      return list;
    }
    const list = resScratch.slice(0, n);
    rowLists.push(list);
    return list;
  };

  for (let mi = 0; mi < sorted.length; mi++) {
    const m = sorted[mi];
    const opts = statics[mi];
    // Sized for every option and trimmed at the end: grown by push they keep room for 17.
    const made: Candidate[] = new Array(opts.length);
    const rej: RawRejection[] = new Array(opts.length);
    let madeN = 0;
    let rejN = 0;
    for (let oi = 0; oi < opts.length; oi++) {
      const o = opts[oi];
      if (o.rejection) {
        rej[rejN++] = o.rejection;
        continue;
      }
      const di = o.deviceIndex;
      const fi = o.flavourIndex;
      const target = o.target;
      const flavour = flavoursOf(devices[di])[fi];
      usageOf(m, traffic[mi], flavour, target, usage);
      if (usage.throughput > 1 + 1e-9 || usage.arm > 1 + 1e-9) {
        const share = Math.max(usage.throughput, usage.arm);
        const maxPps = traffic[mi].pps / share;
        rej[rejN++] = {
          deviceIndex: di, target, code: 'throughput',
          message: `${target} on ${flavour.profileId} sustains ${fmt(maxPps / 1e6)} Mpps for ${m.instructions} insns, below ${fmt(traffic[mi].pps / 1e6)} Mpps`,
        };
        continue;
      }
      let n = 0;
      let over: string | null = null;
      for (let k = 0; k < KINDS.length; k++) {
        const kind = KINDS[k];
        const a = usage[kind];
        if (a <= 0) continue;
        const r = kind === 'hostCores' ? resourceFor(kind, -1, fi) : resourceFor(kind, di, fi);
        if (a > resources[r].capacity + 1e-9 && !over) over = `needs ${fmt(a)} ${UNIT[kind]} alone, ${resources[r].label} has ${fmt(resources[r].capacity)}`;
        resScratch[n] = r;
        amtScratch[n] = a;
        n++;
      }
      if (over) {
        rej[rejN++] = { deviceIndex: di, target, code: 'capacity', message: over };
        continue;
      }
      const figures = costFigures(m, usage.hostCores, usage.armCores, usage.throughput, o.latency, target, 0);
      // Exact-size copies: arrays grown by push keep room for 17 elements, and thousands are kept.
      const res = sharedRows(n);
      const amt = amtScratch.slice(0, n);
      made[madeN++] = { deviceIndex: di, flavourIndex: fi, target, stage: STAGE_ORDER[target], cost: figures[6], figures, breakdown: undefined, res, amt, described: undefined, asChosen: undefined };
    }
    made.length = madeN;
    rej.length = rejN;
    modules.push({ sorted: sortByCost(made), rejected: rej });
  }
  // The host-core budget exists even when no candidate uses it, so validators can name it.
  resourceFor('hostCores', -1, 0);
  return { traffic, resources, switchCost, modules };
}

/**
 * Stable, in place, by cost. Candidate lists are short (a few devices x targets) and sorted for
 * every traffic filter of a fleet plan; Array.prototype.sort allocates a work array each time.
 */
function sortByCost(cs: Candidate[]): Candidate[] {
  for (let i = 1; i < cs.length; i++) {
    const c = cs[i];
    let j = i - 1;
    while (j >= 0 && cs[j].cost > c.cost) {
      cs[j + 1] = cs[j];
      j--;
    }
    cs[j + 1] = c;
  }
  return cs;
}

/**
 * One machine's problem from a traffic filter: a module the machine already runs has every
 * candidate but the one it runs on charged the program swap; the others are shared as they are.
 */
export function problemFrom(machine: PlacementMachine, sorted: PlacementModule[], devices: PlacementDevice[], tf: TrafficFilter): MachineProblem {
  const candidates: (readonly Candidate[])[] = [];
  const rejected: (readonly RawRejection[])[] = [];
  for (let mi = 0; mi < sorted.length; mi++) {
    const m = sorted[mi];
    const o = tf.modules[mi];
    // Problems are read-only, so classes share the filter's arrays instead of copying them.
    rejected.push(o.rejected);
    const current = machine.currentPlacement[m.name];
    if (current === undefined) {
      candidates.push(o.sorted);
      continue;
    }
    const cands = o.sorted.map((c) => {
      const moved = current.deviceId !== devices[c.deviceIndex].id || current.target !== c.target;
      const figures = refigure(m, c.figures, c.target, moved ? PROGRAM_SWAP_SECONDS : 0);
      return { ...c, cost: figures[6], figures, breakdown: undefined, described: undefined, asChosen: undefined };
    });
    candidates.push(sortByCost(cands));
  }
  return { machine, devices, modules: sorted, traffic: tf.traffic, candidates, rejected, resources: tf.resources, switchCost: tf.switchCost };
}

/** buildProblem from a precomputed static filter (`sorted` in chain order, `devices` from devicesOf). */
export function buildFiltered(
  machine: PlacementMachine, sorted: PlacementModule[], devices: PlacementDevice[], statics: StaticFilter, trafficOverride?: TrafficDemand[],
): MachineProblem {
  const traffic = sorted.map((m, i) => trafficOverride?.[i] ?? trafficFor(machine, m));
  return problemFrom(machine, sorted, devices, trafficFilter(machine.hostCoreBudget, sorted, devices, statics, traffic));
}

/**
 * The string as one flat string. A template literal leaves a tree of cons strings (one heap object
 * per join); a fleet plan keeps thousands of messages until it is read, and every object kept is
 * copied by each young-generation GC. Reading a character makes V8 flatten the tree in place.
 */
export function flat(s: string): string {
  if (s.length > 12) s.charCodeAt(0);
  return s;
}

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 1 ? x.toFixed(2) : x.toFixed(4);
}
