import { Hook, HOOK_POSITION, Target } from '@ioplane/domain';
import type { StaticFilter } from './static.filter';
import { emptyUsage, figuresWith, usageOf } from './cost.model';
import { hookSlots, PortPath } from './port.paths';
import type { Candidate, RawRejection, Resource, ResourceKind } from './machine.problem';
import { deviceToken, fmt, unitOf } from './plan.words';
import { COST_WEIGHTS, DeviceFlavour, PlacementDevice, PlacementMachine, PlacementModule, TrafficDemand } from './placement.model';

/**
 * The second half of building a machine problem (the first is staticFilter): what the machine's
 * traffic allows and costs, on a layout of resource rows shared by machines of one shape.
 */

/**
 * The hook positions as a local binding: an imported one is read through a getter on every use
 * (CommonJS re-exports), and these are read for every option of every machine.
 */
const POSITION = HOOK_POSITION;

const KINDS: readonly ResourceKind[] = ['slots', 'instructions', 'mapMemoryBytes', 'flowRules', 'throughput', 'arm', 'hostCores'];

function capacityOf(f: DeviceFlavour, kind: ResourceKind): number {
  switch (kind) {
    case 'instructions':
      return f.maxInstructions;
    case 'mapMemoryBytes':
      return f.mapMemoryBytes;
    case 'flowRules':
      return f.flowRules;
    default:
      return 1;
  }
}

export interface ModuleOptions {
  sorted: Candidate[];
  rejected: RawRejection[];
}

/** Everything of a problem that traffic decides: resource rows, costs without migration, per row. */
export interface TrafficFilter {
  traffic: TrafficDemand[];
  /** Problems made from this filter so far (problemFrom counts them). */
  problems: number;
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
  machine: PlacementMachine,
  chain: readonly PlacementModule[],
  devices: readonly PlacementDevice[],
  ports: readonly PortPath[],
  statics: StaticFilter,
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
    rows.push(
      statics[r].map((o) => {
        const at = new Int32Array(KINDS.length).fill(-1);
        if (o.rejection) return at;
        const { deviceIndex: d, flavourIndex: f, hook } = o;
        KINDS.forEach((kind, k) => {
          if (kind === 'hostCores') {
            at[k] = row('hostCores', () => ({
              kind: 'hostCores',
              deviceIndex: -1,
              flavourIndex: 0,
              capacity: machine.hostCoreBudget,
              label: 'host-core budget',
            }));
          } else if (kind === 'slots') {
            const cap = hookSlots(machine, d === hostDevice ? null : devices[d], f, hook);
            at[k] = row(`slots|${port.interface}|${hook}|${d}|${f}`, () => ({
              kind: 'slots',
              deviceIndex: d === hostDevice ? port.card : d,
              flavourIndex: f,
              capacity: cap,
              label: `${hook} slots on ${port.interface}`,
            }));
          } else {
            at[k] = row(`${kind}|${d}|${f}`, () => ({
              kind,
              deviceIndex: d,
              flavourIndex: f,
              capacity: capacityOf(devices[d].flavours[f], kind),
              label: `${kind} on ${deviceToken(d)}`,
            }));
          }
        });
        return at;
      }),
    );
  }
  // The host-core budget exists even when no candidate uses it, so validators can name it.
  row('hostCores', () => ({
    kind: 'hostCores',
    deviceIndex: -1,
    flavourIndex: 0,
    capacity: machine.hostCoreBudget,
    label: 'host-core budget',
  }));
  const switchCost = devices.map((d) => d.flavours.map((f, i) => (i === 0 ? 0 : COST_WEIGHTS.migrationSecond * f.switchSeconds)));
  return { resources, switchCost, rows, resShared: rows.map((r) => r.map(() => ({ masks: [], lists: [] }))) };
}

export function trafficFilter(
  machine: PlacementMachine,
  chain: readonly PlacementModule[],
  devices: readonly PlacementDevice[],
  ports: readonly PortPath[],
  statics: StaticFilter,
  traffic: TrafficDemand[],
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
      usageOf(m, traffic[r], flavour, target, usage, o.extraNs);
      if (usage.throughput > 1 + 1e-9 || usage.arm > 1 + 1e-9) {
        const share = Math.max(usage.throughput, usage.arm);
        rej.push(
          new TrafficRejection(
            di,
            target,
            hook,
            'throughput',
            flavour.profileId,
            traffic[r].pps / share / 1e6,
            traffic[r].pps / 1e6,
            m.instructions,
          ),
        );
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
        if (overKind === 0) rej.push(new TrafficRejection(di, target, hook, 'slots', port.interface, cap, 0, 0));
        else rej.push(new TrafficRejection(di, target, hook, 'capacity', resources[at[overKind]].label, cap, overAmount, overKind));
        continue;
      }
      const res = sharedRes(layout.resShared[r][oi], used, takenRes, taken);
      const amt = takenAmt.slice(0, taken);
      const figures = figuresWith(usage.hostCores, usage.armCores, usage.throughput, o.latency, 0, o.utilWeight, o.preferPenalty);
      // Every field a candidate ever gets, set here: one object shape for all of them (explain
      // fills the last two when a plan is written), so reads of candidates stay monomorphic.
      made.push({
        deviceIndex: di,
        flavourIndex: fi,
        target,
        hook,
        stage: POSITION[hook],
        cost: figures[6],
        figures,
        breakdown: undefined,
        res,
        amt,
        described: undefined,
      });
    }
    modules.push({ sorted: sortByCost(made), rejected: rej });
  }
  return { traffic, problems: 0, resources, switchCost, modules };
}

/**
 * A refusal by the machine's traffic (throughput, slots, capacity), kept as its numbers and worded
 * when its message is first read: most of a fleet plan's refusals are checked, never shown.
 */
class TrafficRejection implements RawRejection {
  private text: string | undefined;

  constructor(
    readonly deviceIndex: number,
    readonly target: Target,
    readonly hook: Hook,
    readonly code: 'throughput' | 'slots' | 'capacity',
    /** throughput: the profile id; slots: the interface; capacity: the resource's label. */
    private readonly s: string,
    /** throughput: the Mpps the target sustains; slots and capacity: the capacity. */
    private readonly x: number,
    /** throughput: the Mpps it sees; capacity: the amount needed. */
    private readonly y: number,
    /** throughput: the module's instructions; capacity: the KINDS index. */
    private readonly z: number,
  ) {}

  get message(): string {
    if (this.text !== undefined) return this.text;
    if (this.code === 'throughput')
      this.text = `${this.target} on ${this.s} sustains ${fmt(this.x)} Mpps for ${this.z} insns, below ${fmt(this.y)} Mpps`;
    else if (this.code === 'slots') this.text = `${this.hook} on ${this.s} has ${fmt(this.x)} program slots`;
    else this.text = `needs ${fmt(this.y)} ${unitOf(KINDS[this.z])} alone, ${this.s} has ${fmt(this.x)}`;
    return this.text;
  }
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

export function sortByCost(cs: Candidate[]): Candidate[] {
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
