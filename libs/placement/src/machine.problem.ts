import { EXCLUSIVE_HOOKS, Hook, HOOK_POSITION, HOOKS, Target } from '@ioplane/domain';
import { CostFigures, costFigures, emptyUsage, hostExtraNs, HOST_KERNEL_FLAVOUR, latencyOf, refigure, usageOf, Usage, breakdownFrom } from './cost.model';
import { chainRates, hookSlots, passOf, pathOptions, PortPath, resolvePorts } from './port.paths';
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

/** One (device, flavour, target, hook) a row (a module on one port) may take, with its cost and resource use. */
export interface Candidate {
  deviceIndex: number;
  flavourIndex: number;
  target: Target;
  hook: Hook;
  /** HOOK_POSITION of the hook. */
  stage: number;
  /** hce, without the one-off flavour switch (charged per device). */
  cost: number;
  /** The cost's parts, packed (see costFigures); breakdownOf makes the object when it is shown. */
  figures: CostFigures;
  breakdown?: CostBreakdown;
  res: number[];
  amt: number[];
  described?: string;
  asChosen?: string;
}

export interface RawRejection {
  deviceIndex: number;
  target: Target;
  hook: Hook;
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

/**
 * A machine's placement as numbers: every solver and explainer works on this. A row is one
 * module on one ingress port (rows of a port are consecutive, in chain order); the chain's
 * order and hook exclusivity hold between consecutive rows of one port only.
 */
export interface MachineProblem {
  machine: PlacementMachine;
  /** The machine's cards, then the host kernel (generic XDP) as the last entry. */
  devices: PlacementDevice[];
  /** Index of the host-kernel entry in devices. */
  hostDevice: number;
  /** The chain, sorted. */
  chain: PlacementModule[];
  ports: PortPath[];
  /** Per row: its module (chain[row % chain.length]). */
  modules: PlacementModule[];
  /** Per row: its port index. */
  rowPort: number[];
  /** Per row: true when it is the first module of its port's chain. */
  chainStart: boolean[];
  /** Allowed transitions between positions on one port (see transitions). */
  allowed: readonly boolean[];
  traffic: TrafficDemand[];
  /** Shared with the traffic filter and other classes: never mutated. */
  candidates: readonly (readonly Candidate[])[];
  rejected: readonly (readonly RawRejection[])[];
  resources: Resource[];
  /** Per device, per flavour: hce charged once when the plan uses a flavour other than flavour 0. */
  switchCost: number[][];
}

/** Number of hook positions. */
export const STAGES: number = HOOKS.length;
/** The state before a port's first module: anything may follow it. */
export const START: number = STAGES;
/** States a row may start from: the previous row's position on the same port, or START. */
export const STATES = STAGES + 1;

/**
 * Hooks the card's own driver runs (its hardware: flow rules, offload, DPU). Driver and generic
 * XDP are the host kernel's: the agent loads them as a chain apart (a host-XDP-only card's
 * driver has no other hook; a card with hardware hooks hands its netdevs' host XDP to a device
 * of their own), so they never share the card's one chain per port.
 */
const CARD_HOOK = (h: number) => h < HOOK_POSITION['xdp-native'];

/**
 * Which position may follow which on one port, as a STATES x STAGES table: packets never go
 * back, and exclusive hooks (native and generic on one netdev; a NIC's flow and XDP offload)
 * never both hold modules of one port. Both hooks of an exclusive pair are neighbours in packet
 * order, so checking neighbours is enough. `oneCardHook`: the agent loads one chain per device
 * port, so a port's modules on the card's hardware share one hook (host XDP runs apart).
 */
export function transitions(oneCardHook: boolean): boolean[] {
  const t: boolean[] = new Array(STATES * STAGES).fill(true);
  for (let prev = 0; prev < STAGES; prev++) {
    for (let next = 0; next < STAGES; next++) {
      let ok = next >= prev;
      for (const [a, b] of EXCLUSIVE_HOOKS) {
        const pa = HOOK_POSITION[a];
        const pb = HOOK_POSITION[b];
        if ((prev === pa && next === pb) || (prev === pb && next === pa)) ok = false;
      }
      if (oneCardHook && prev !== next && CARD_HOOK(prev) && CARD_HOOK(next)) ok = false;
      t[prev * STAGES + next] = ok;
    }
  }
  return t;
}

const DEFAULT_TRANSITIONS = transitions(false);
const ONE_CARD_HOOK = transitions(true);
/** A table where only the packet order holds: what diagnosis relaxes to when it drops the hook rules. */
export const ANY_ORDER: boolean[] = new Array(STATES * STAGES).fill(true);

/** May a module at position `next` follow state `prev` (a position, or START) on one port? */
export function follows(prev: number, next: number, table: readonly boolean[] = DEFAULT_TRANSITIONS): boolean {
  return table[prev * STAGES + next];
}

/** The state the next row starts from after this row took `stage`. */
export function stateAfter(p: MachineProblem, row: number, stage: number): number {
  return row + 1 < p.chainStart.length && p.chainStart[row + 1] ? START : stage;
}

const KINDS: readonly ResourceKind[] = ['slots', 'instructions', 'mapMemoryBytes', 'flowRules', 'throughput', 'arm', 'hostCores'];

function capacityOf(f: DeviceFlavour, kind: ResourceKind): number {
  switch (kind) {
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

export function breakdownOf(c: Candidate): CostBreakdown {
  return (c.breakdown ??= breakdownFrom(c.figures));
}

/** Device ids appear in messages as `{device:N}` so one explanation serves every machine of a class. */
const TOKENS: string[] = [];

export function deviceToken(d: number): string {
  return (TOKENS[d + 1] ??= `{device:${d}}`);
}

export function bindDevices(message: string, ids: readonly string[]): string {
  let at = message.indexOf('{device:');
  if (at < 0) return message;
  // Scanned by hand, not with a replace callback: every reason of every machine's plan goes
  // through here, and the regular expression and its callback cost more than the copy.
  let out = '';
  let from = 0;
  while (at >= 0) {
    let end = at + 8;
    while (end < message.length && message.charCodeAt(end) >= 48 && message.charCodeAt(end) <= 57) end++;
    if (end === at + 8 || message.charCodeAt(end) !== 125) {
      out += message.slice(from, end);
    } else {
      const i = message.slice(at + 8, end);
      out += message.slice(from, at) + (ids[Number(i)] ?? `device ${i}`);
      end++;
    }
    from = end;
    at = message.indexOf('{device:', from);
  }
  return out + message.slice(from);
}

export function unitOf(kind: ResourceKind): string {
  return UNIT[kind];
}

/** The id under which the host kernel (generic XDP) appears among a problem's devices: never shown in a plan. */
export function hostKernelId(machine: PlacementMachine): string {
  return `${machine.systemId}/host-kernel`;
}

/** The machine's cards, then the host kernel that runs generic XDP on any of their netdevs. */
export function devicesOf(machine: PlacementMachine): PlacementDevice[] {
  return [...machine.devices, { id: hostKernelId(machine), kind: 'nic', flavours: [HOST_KERNEL_FLAVOUR], interfaces: [] }];
}

/** The module's traffic on the machine when one figure stands for every port (telemetry, or its declaration). */
export function trafficFor(machine: PlacementMachine, m: PlacementModule): TrafficDemand {
  return machine.traffic?.[m.name] ?? m.traffic;
}

function verdictFor(m: PlacementModule, flavour: DeviceFlavour, target: Target) {
  return m.verdicts[flavour.profileId] ?? (target.startsWith('host-') ? m.verdicts[HOST_VERDICT_KEY] : undefined);
}

/** Chain order: by position, ties by name so the order never depends on input order. */
export function sortChain<T extends { chainPosition: number; name: string }>(modules: readonly T[]): T[] {
  return [...modules].sort((a, b) => a.chainPosition - b.chainPosition || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

export interface StaticOption {
  deviceIndex: number;
  flavourIndex: number;
  target: Target;
  hook: Hook;
  latency: number;
  rejection: RawRejection | null;
}

/** Per row, every option of its port's path in the order candidates are made. */
export type StaticFilter = StaticOption[][];

/**
 * The traffic-independent half of building a problem: per row, what the port's path offers and
 * what pins, verdicts and latency budgets refuse.
 */
export function staticFilter(chain: readonly PlacementModule[], devices: readonly PlacementDevice[], ports: readonly PortPath[], hostDevice: number): StaticFilter {
  const out: StaticFilter = [];
  for (const port of ports) {
    const card = port.card >= 0 ? devices[port.card] : null;
    const options = pathOptions(card);
    for (const m of chain) {
      const opts: StaticOption[] = [];
      const pin = m.pin;
      for (const o of options) {
        const di = o.host ? hostDevice : port.card;
        const flavour = devices[di].flavours[o.flavourIndex];
        const target = o.target;
        const refuse = (code: RejectCode, message: string) => opts.push({ deviceIndex: di, flavourIndex: o.flavourIndex, target, hook: o.hook, latency: 0, rejection: { deviceIndex: di, target, hook: o.hook, code, message } });
        // A device pin names the card; its generic hook is on that card's netdev too.
        const shownId = card?.id ?? '';
        if (pin !== undefined && pin !== target && pin !== shownId) {
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
        opts.push({ deviceIndex: di, flavourIndex: o.flavourIndex, target, hook: o.hook, latency, rejection: null });
      }
      out.push(opts);
    }
  }
  return out;
}

export interface ModuleOptions {
  sorted: Candidate[];
  rejected: RawRejection[];
}

/** Everything of a problem that traffic decides: resource rows, costs without migration, per row. */
export interface TrafficFilter {
  traffic: TrafficDemand[];
  resources: Resource[];
  switchCost: number[][];
  modules: ModuleOptions[];
}

/**
 * Where each static option's use lands among a machine's resource rows, and the rows themselves:
 * everything of a traffic filter that depends on the machine's shape (cards, ports, chain, budget,
 * agent slots) but not on its traffic, so a fleet of machines that differ only in traffic builds
 * it once per shape. The resource rows are shared and never mutated.
 */
export interface FilterLayout {
  resources: Resource[];
  switchCost: number[][];
  /** Per row, per static option (the order of StaticFilter): resource row per KINDS entry. */
  rows: Int32Array[][];
  /**
   * Per row, per static option, per set of kinds used (bit k for KINDS[k]): the candidates' `res`
   * array, shared by every traffic filter of the shape (which rows an option uses depends on
   * which kinds it uses, not on how much).
   */
  resShared: SharedRes[][];
}

/** The `res` arrays of one option, by the kinds they cover (`masks[j]` for `lists[j]`): usually one. */
interface SharedRes {
  masks: number[];
  lists: number[][];
}

function sharedRes(s: SharedRes, mask: number, taken: readonly number[], n: number): number[] {
  for (let j = 0; j < s.masks.length; j++) if (s.masks[j] === mask) return s.lists[j];
  const res = taken.slice(0, n);
  s.masks.push(mask);
  s.lists.push(res);
  return res;
}

export function filterLayout(
  machine: PlacementMachine, chain: readonly PlacementModule[], devices: readonly PlacementDevice[], ports: readonly PortPath[], statics: StaticFilter,
): FilterLayout {
  const resources: Resource[] = [];
  const index = new Map<string, number>();
  const row = (key: string, make: () => Resource): number => {
    let i = index.get(key);
    if (i === undefined) {
      i = resources.push(make()) - 1;
      index.set(key, i);
    }
    return i;
  };
  const hostDevice = devices.length - 1;
  const n = chain.length;
  const rows: Int32Array[][] = [];
  for (let r = 0; r < statics.length; r++) {
    const port = ports[Math.floor(r / n)];
    rows.push(statics[r].map((o) => {
      const at = new Int32Array(KINDS.length).fill(-1);
      if (o.rejection) return at;
      const { deviceIndex: d, flavourIndex: f, hook } = o;
      KINDS.forEach((kind, k) => {
        if (kind === 'hostCores') {
          at[k] = row('hostCores', () => ({ kind: 'hostCores', deviceIndex: -1, flavourIndex: 0, capacity: machine.hostCoreBudget, label: 'host-core budget' }));
        } else if (kind === 'slots') {
          const cap = hookSlots(machine, d === hostDevice ? null : devices[d], f, hook);
          at[k] = row(`slots|${port.interface}|${hook}|${d}|${f}`, () => ({ kind: 'slots', deviceIndex: d === hostDevice ? port.card : d, flavourIndex: f, capacity: cap, label: `${hook} slots on ${port.interface}` }));
        } else {
          at[k] = row(`${kind}|${d}|${f}`, () => ({ kind, deviceIndex: d, flavourIndex: f, capacity: capacityOf(devices[d].flavours[f], kind), label: `${kind} on ${deviceToken(d)}` }));
        }
      });
      return at;
    }));
  }
  // The host-core budget exists even when no candidate uses it, so validators can name it.
  row('hostCores', () => ({ kind: 'hostCores', deviceIndex: -1, flavourIndex: 0, capacity: machine.hostCoreBudget, label: 'host-core budget' }));
  const switchCost = devices.map((d) => d.flavours.map((f, i) => (i === 0 ? 0 : COST_WEIGHTS.migrationSecond * f.switchSeconds)));
  return { resources, switchCost, rows, resShared: rows.map((r) => r.map(() => ({ masks: [], lists: [] }))) };
}

export function trafficFilter(
  machine: PlacementMachine, chain: readonly PlacementModule[], devices: readonly PlacementDevice[], ports: readonly PortPath[], statics: StaticFilter, traffic: TrafficDemand[],
  layout: FilterLayout = filterLayout(machine, chain, devices, ports, statics),
): TrafficFilter {
  const { resources, switchCost } = layout;
  const modules: ModuleOptions[] = [];
  const usage = emptyUsage();
  const n = chain.length;
  for (let r = 0; r < statics.length; r++) {
    const port = ports[Math.floor(r / n)];
    const mi = r % n;
    const m = chain[mi];
    const card = port.card >= 0 ? devices[port.card] : null;
    const made: Candidate[] = [];
    const rej: RawRejection[] = [];
    const opts = statics[r];
    for (let oi = 0; oi < opts.length; oi++) {
      const o = opts[oi];
      if (o.rejection) {
        rej.push(o.rejection);
        continue;
      }
      const { deviceIndex: di, flavourIndex: fi, target, hook } = o;
      const flavour = devices[di].flavours[fi];
      // The receive (and skb) cost is the port card's driver's, whatever flavour it runs now.
      const extra = hostExtraNs(card?.flavours[0] ?? null, target, passOf(m), mi === n - 1);
      usageOf(m, traffic[r], flavour, target, usage, extra);
      if (usage.throughput > 1 + 1e-9 || usage.arm > 1 + 1e-9) {
        const share = Math.max(usage.throughput, usage.arm);
        rej.push({ deviceIndex: di, target, hook, code: 'throughput', message: `${target} on ${flavour.profileId} sustains ${fmt(traffic[r].pps / share / 1e6)} Mpps for ${m.instructions} insns, below ${fmt(traffic[r].pps / 1e6)} Mpps` });
        continue;
      }
      // A flow module takes a hook slot only where the agent counts it as one (finite slots).
      if (hook === 'dpu-flow' || hook === 'nic-flow') usage.slots = 1;
      const at = layout.rows[r][oi];
      // Each kind read by name, in KINDS order: a keyed read (usage[kind]) in this loop, run for
      // every option of every class, cost more than the rest of the loop.
      overKind = -1;
      taken = 0;
      used = 0;
      if (usage.slots > 0 && Number.isFinite(resources[at[0]].capacity)) take(0, usage.slots, at, resources);
      if (usage.instructions > 0) take(1, usage.instructions, at, resources);
      if (usage.mapMemoryBytes > 0) take(2, usage.mapMemoryBytes, at, resources);
      if (usage.flowRules > 0) take(3, usage.flowRules, at, resources);
      if (usage.throughput > 0) take(4, usage.throughput, at, resources);
      if (usage.arm > 0) take(5, usage.arm, at, resources);
      if (usage.hostCores > 0) take(6, usage.hostCores, at, resources);
      if (overKind >= 0) {
        const cap = resources[at[overKind]].capacity;
        if (overKind === 0) rej.push({ deviceIndex: di, target, hook, code: 'slots', message: `${hook} on ${port.interface} has ${fmt(cap)} program slots` });
        else rej.push({ deviceIndex: di, target, hook, code: 'capacity', message: `needs ${fmt(overAmount)} ${UNIT[KINDS[overKind]]} alone, ${resources[at[overKind]].label} has ${fmt(cap)}` });
        continue;
      }
      const res = sharedRes(layout.resShared[r][oi], used, takenRes, taken);
      const amt = takenAmt.slice(0, taken);
      const figures = costFigures(m, usage.hostCores, usage.armCores, usage.throughput, o.latency, target, 0);
      made.push({ deviceIndex: di, flavourIndex: fi, target, hook, stage: HOOK_POSITION[hook], cost: figures[6], figures, res, amt });
    }
    modules.push({ sorted: sortByCost(made), rejected: rej });
  }
  return { traffic, resources, switchCost, modules };
}

/** The first kind (in KINDS order) whose use alone exceeds its capacity in trafficFilter's current option, -1 for none. */
let overKind = -1;
let overAmount = 0;
/**
 * The current option's resource rows and amounts, in scratch arrays copied to exact size once the
 * option is kept: `used` has bit k set for KINDS[k]. Candidates with pushed-to arrays carried a
 * 16-slot store each.
 */
const takenRes: number[] = filledArrayOf(KINDS.length, 0);
const takenAmt: number[] = filledArrayOf(KINDS.length, 0.5);
let taken = 0;
let used = 0;

function filledArrayOf(n: number, v: number): number[] {
  return new Array<number>(n).fill(v);
}

/** Record amount `a` of KINDS[k] on its resource row, noting the first kind that does not fit alone. */
function take(k: number, a: number, at: Int32Array, resources: readonly Resource[]): void {
  const ri = at[k];
  if (overKind < 0 && a > resources[ri].capacity + 1e-9) {
    overKind = k;
    overAmount = a;
  }
  takenRes[taken] = ri;
  takenAmt[taken++] = a;
  used |= 1 << k;
}

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

/** The device id a hop on `d` reports: the card owning the port's netdev for the host kernel's generic hook. */
export function shownDeviceId(p: Pick<MachineProblem, 'devices' | 'hostDevice' | 'ports'>, d: number, port: number): string {
  if (d !== p.hostDevice) return p.devices[d].id;
  const card = p.ports[port].card;
  return card >= 0 ? p.devices[card].id : p.devices[d].id;
}

/**
 * One machine's problem from a traffic filter: a module the machine already runs has every
 * candidate but the one it runs on charged the program swap; the others are shared as they are.
 */
export function problemFrom(machine: PlacementMachine, chain: PlacementModule[], devices: PlacementDevice[], ports: PortPath[], tf: TrafficFilter): MachineProblem {
  const n = chain.length;
  const hostDevice = devices.length - 1;
  const candidates: (readonly Candidate[])[] = [];
  const rejected: (readonly RawRejection[])[] = [];
  const modules: PlacementModule[] = [];
  const rowPort: number[] = [];
  const chainStart: boolean[] = [];
  const shape = { devices, hostDevice, ports };
  for (let r = 0; r < tf.modules.length; r++) {
    const m = chain[r % n];
    const pi = Math.floor(r / n);
    modules.push(m);
    rowPort.push(pi);
    chainStart.push(r % n === 0);
    const o = tf.modules[r];
    rejected.push(o.rejected);
    const current = machine.currentPlacement[m.name];
    if (current === undefined) {
      candidates.push(o.sorted);
      continue;
    }
    const cands = o.sorted.map((c) => {
      const moved = current.deviceId !== shownDeviceId(shape, c.deviceIndex, pi) || current.target !== c.target
        || (current.interface !== undefined && current.interface !== ports[pi].interface);
      const figures = refigure(m, c.figures, c.target, moved ? PROGRAM_SWAP_SECONDS : 0);
      return { ...c, cost: figures[6], figures, breakdown: undefined, described: undefined, asChosen: undefined };
    });
    candidates.push(sortByCost(cands));
  }
  const allowed = machine.oneChainPerPort ? ONE_CARD_HOOK : DEFAULT_TRANSITIONS;
  return { machine, devices, hostDevice, chain, ports, modules, rowPort, chainStart, allowed, traffic: tf.traffic, candidates, rejected, resources: tf.resources, switchCost: tf.switchCost };
}

/** Every row's traffic: per port, the chain's rates (the entering rate replaced by `entering` when given). */
export function rowTraffic(machine: PlacementMachine, chain: readonly PlacementModule[], ports: readonly PortPath[], entering?: readonly TrafficDemand[]): TrafficDemand[] {
  return ports.flatMap((p, i) => chainRates(machine, machine.ports[p.index], chain, entering?.[i] ?? p.entering));
}

/**
 * Build the per-machine problem. `entering` replaces each port's entering traffic (equivalence
 * classes solve at the bucket's upper edge so the plan stays feasible for every member).
 */
export function buildProblem(machine: PlacementMachine, modules: readonly PlacementModule[], entering?: TrafficDemand[]): MachineProblem {
  const chain = sortChain(modules);
  const devices = devicesOf(machine);
  const ports = resolvePorts(machine, chain);
  const statics = staticFilter(chain, devices, ports, devices.length - 1);
  return problemFrom(machine, chain, devices, ports, trafficFilter(machine, chain, devices, ports, statics, rowTraffic(machine, chain, ports, entering)));
}

/** The string as one flat string (V8 flattens a cons string when a character is read). */
export function flat(s: string): string {
  if (s.length > 12) s.charCodeAt(0);
  return s;
}

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 1 ? x.toFixed(2) : x.toFixed(4);
}
