import { TARGETS } from '@ioplane/domain';
import { devicesOf, MachineProblem, problemFrom, StaticFilter, staticFilter, TrafficFilter, trafficFilter, trafficFor } from './machine.problem';
import { decisionsOf, infeasibleAs, MachineSolution, solveProblem, SolveOptions } from './machine.solver';
import { PlacementMachine, PlacementModule, TrafficDemand } from './placement.model';

/**
 * Machines with the same hardware, budget, module set, traffic bucket, current placement and
 * pins get the same plan (up to device ids), so one solve serves the whole class, as Borg-style
 * schedulers do. Devices are compared by kind and profile ids: two devices with the same profile
 * ids are assumed to carry the same numbers, which holds when both come from the profile files.
 */
export interface EquivalenceClass {
  /** Readable key, built on first read (lookups use the numeric signature). */
  readonly key: string;
  readonly index: number;
  readonly modules: string[];
  /** Solved on first read: a fleet plan classifies every machine first, then solves each class. */
  readonly solution: MachineSolution;
  members: number;
}

/**
 * A class as lookup creates it: the first member stands for all (they share the problem up to
 * device ids). Solving is deferred so the lookup pass over a large fleet runs alone, with the
 * fleet's machines hot in the CPU caches, instead of interleaved with hundreds of solves.
 */
class ClassEntry implements EquivalenceClass {
  members = 1;
  private solved: MachineSolution | null = null;
  private readable: string | null = null;

  constructor(
    readonly index: number,
    readonly modules: string[],
    private readonly cache: EquivalenceCache,
    readonly first: PlacementMachine,
    /** The caller's module list and key (for the readable key) and the cache's own sorted copy. */
    readonly callerModules: readonly PlacementModule[],
    readonly modulesKey: string,
    readonly sorted: PlacementModule[],
    readonly signature: readonly number[],
  ) {}

  get solution(): MachineSolution {
    return (this.solved ??= this.cache.solveClass(this));
  }

  get key(): string {
    return (this.readable ??= this.cache.keyOf(this.first, this.callerModules, this.modulesKey));
  }
}

export interface CacheOptions extends SolveOptions {
  /**
   * Traffic is rounded up to the next power of this ratio before solving, so plans stay feasible
   * for every member of a bucket (resource use only grows with pps). 1 disables bucketing.
   * Why 1.1 and not coarser: a member is planned at its bucket's upper edge, so a wider bucket
   * plans more machines for traffic they do not carry. On the bench fleet 1.2 halves the classes
   * (387 -> 219) but wrongly reports 185 more machines infeasible than 1.1 does; the saving is
   * not worth plans that are wrong for real machines.
   */
  trafficBucketRatio?: number;
}

const TARGET_SET = new Set<string>(TARGETS);

interface ModuleShape {
  modules: readonly PlacementModule[];
  key: string;
  id: number;
  names: string[];
  sorted: PlacementModule[];
  bases: Float64Array;
  /** The device id a module is pinned to, or null (pins to a target do not depend on the machine). */
  devicePins: (string | null)[];
}

/**
 * Tags in the signature so fields of different kinds can never line up by accident. Buckets are
 * integers and may be negative (traffic below the module's declared rate), so the tag for an
 * unbucketed pps is not an integer; pins are device indices (>= -1).
 */
const EXACT_PPS = -0.5;
const NO_PIN = -2;

/**
 * Class lookup is the per-machine hot path of a fleet plan (10,000 machines, a few hundred
 * classes), so it allocates nothing per machine: the machine's class signature is written as
 * numbers into one reusable Float64Array (strings interned to small ids once), hashed with a
 * 32-bit multiply-xor mix over its raw bits, and compared field by field against the class
 * stored under that hash, so a hash collision can never merge two different classes. The
 * readable string key of a class is built once, when the class is created.
 */
export class EquivalenceCache {
  readonly classes: ClassEntry[] = [];
  private readonly byHash = new Map<number, number[]>();
  private readonly ids = new Map<string, number>();
  /** Traffic-independent filtering, shared by classes with the same modules, hardware and pins. */
  private readonly statics = new Map<string, StaticFilter>();
  /** Traffic-dependent filtering, shared by classes that differ only in their current placement. */
  private readonly filters = new Map<string, TrafficFilter>();
  /** A proven-infeasible solution per traffic filter: classes sharing one differ only in costs. */
  private readonly infeasibleOf = new Map<TrafficFilter, MachineSolution>();
  private sig = new Float64Array(64);
  private bits = new Int32Array(this.sig.buffer);
  private len = 0;
  private lastShape: ModuleShape | null = null;
  private readonly logRatio: number;
  solves = 0;
  hits = 0;

  constructor(private readonly opts: CacheOptions = {}) {
    const r = opts.trafficBucketRatio ?? 1.1;
    this.logRatio = r > 1 ? Math.log(r) : 0;
  }

  /**
   * Buckets are anchored at the module's declared traffic (bucket b covers up to base x ratio^b),
   * so a machine whose modules all scale with one load factor lands in the same bucket for each.
   */
  bucketOf(pps: number, base: number): number {
    return this.bucketOfRatio(pps / base);
  }

  private bucketOfRatio(ratio: number): number {
    return Math.ceil(Math.log(ratio) / this.logRatio - 1e-9);
  }

  /** Upper edge of the traffic bucket (the pps every member is planned for). */
  bucketPps(pps: number, base: number): number {
    if (this.logRatio === 0 || pps <= 0 || base <= 0) return pps;
    return base * Math.exp(this.bucketOf(pps, base) * this.logRatio);
  }

  /** A readable key of the class (built once per class; lookups use the numeric signature). */
  keyOf(machine: PlacementMachine, modules: readonly PlacementModule[], modulesKey: string): string {
    let k = machine.devices.some((d) => d.kind === 'host-cpu') ? '' : 'cpu+';
    for (const d of machine.devices) k += d.kind + d.flavours.map((f) => ':' + f.profileId).join('') + ',';
    k += '|' + machine.hostCoreBudget + '|' + modulesKey + '|';
    for (const m of modules) {
      const t = trafficFor(machine, m);
      k += (this.bucketed(t.pps, m.traffic.pps) ? this.bucketOf(t.pps, m.traffic.pps) : 'p' + t.pps) + ',';
      if (m.pin !== undefined && !TARGET_SET.has(m.pin)) k += 'pin' + machine.devices.findIndex((d) => d.id === m.pin) + ',';
    }
    const cur = machine.currentPlacement;
    for (const name in cur) {
      const c = cur[name];
      k += '|' + name + '@' + machine.devices.findIndex((d) => d.id === c.deviceId) + ':' + c.target;
    }
    return k;
  }

  /** The class of `machine` for this (chain-sorted) module list; its solution is computed on first read. */
  classFor(machine: PlacementMachine, sortedModules: readonly PlacementModule[], modulesKey: string): EquivalenceClass {
    this.writeSignature(machine, sortedModules, modulesKey);
    const h = this.hash();
    const chain = this.byHash.get(h);
    if (chain) {
      for (let c = 0; c < chain.length; c++) {
        const hit = this.classes[chain[c]];
        if (this.sameSignature(hit.signature)) {
          hit.members++;
          this.hits++;
          return hit;
        }
      }
    }
    const shape = this.lastShape!;
    const cls = new ClassEntry(this.classes.length, shape.names, this, machine, sortedModules, modulesKey, shape.sorted, Array.prototype.slice.call(this.sig, 0, this.len) as number[]);
    this.classes.push(cls);
    if (chain) chain.push(cls.index);
    else this.byHash.set(h, [cls.index]);
    return cls;
  }

  /** Solve every class not solved yet, in the order they were found. */
  solveAll(opts: { explain?: boolean } = {}): void {
    for (let i = 0; i < this.classes.length; i++) {
      const s = this.classes[i].solution;
      // Explaining right after solving finds the class's candidates still in the CPU caches.
      if (opts.explain) decisionsOf(s);
    }
  }

  /** Solve a class from its first member (called once per class, by ClassEntry.solution). */
  solveClass(cls: ClassEntry): MachineSolution {
    const machine = cls.first;
    const sorted = cls.sorted;
    const devices = devicesOf(machine);
    // Usage depends on pps only (not packet size): statics, budget and buckets name a traffic filter.
    const keys = this.filterKeys(cls.signature, sorted.length);
    let statics = this.statics.get(keys.statics);
    if (!statics) {
      statics = staticFilter(sorted, devices);
      this.statics.set(keys.statics, statics);
    }
    let tf = this.filters.get(keys.traffic);
    if (!tf) {
      const traffic: TrafficDemand[] = sorted.map((m) => {
        const t = trafficFor(machine, m);
        return { pps: this.bucketPps(t.pps, m.traffic.pps), meanPacketBytes: t.meanPacketBytes };
      });
      tf = trafficFilter(machine.hostCoreBudget, sorted, devices, statics, traffic);
      this.filters.set(keys.traffic, tf);
    }
    this.solves++;
    return this.solve(problemFrom(machine, sorted, devices, tf), tf);
  }

  private solve(p: MachineProblem, tf: TrafficFilter): MachineSolution {
    const prior = this.infeasibleOf.get(tf);
    const reused = prior ? infeasibleAs(p, prior) : null;
    if (reused) return reused;
    const s = solveProblem(p, this.opts);
    if (!s.feasible && !prior) this.infeasibleOf.set(tf, s);
    return s;
  }

  /**
   * Two keys read back from a class's signature (short, and no second walk over the machine):
   * `statics` names what staticFilter depends on (module list, device kinds and profiles,
   * host-cpu flag, where device pins point); `traffic` adds the host-core budget and each
   * module's traffic bucket (or exact pps), which is what a traffic filter depends on.
   */
  private filterKeys(sig: readonly number[], moduleCount: number): { statics: string; traffic: string } {
    // Field counts are part of the lists, so joining the numbers is unambiguous.
    const statics: number[] = [sig[0]];
    const traffic: number[] = [sig[1]];
    let i = 2;
    const devices = sig[i++];
    statics.push(devices);
    for (let d = 0; d < devices; d++) {
      statics.push(sig[i++]);
      const flavours = sig[i++];
      statics.push(flavours);
      for (let f = 0; f < flavours; f++) statics.push(sig[i++]);
    }
    statics.push(sig[i++]);
    for (let m = 0; m < moduleCount; m++) {
      if (sig[i] === EXACT_PPS) {
        traffic.push(EXACT_PPS, sig[i + 1]);
        i += 2;
      } else traffic.push(sig[i++]);
      statics.push(sig[i++]);
    }
    const k = statics.join(',');
    return { statics: k, traffic: k + '|' + traffic.join(',') };
  }

  /** Device ids of a member machine, in the order the class's device indices use. */
  static deviceIds(machine: PlacementMachine): string[] {
    return devicesOf(machine).map((d) => d.id);
  }

  private bucketed(pps: number, base: number): boolean {
    return this.logRatio !== 0 && pps > 0 && base > 0;
  }

  private id(s: string): number {
    let v = this.ids.get(s);
    if (v === undefined) {
      v = this.ids.size;
      this.ids.set(s, v);
    }
    return v;
  }

  private static indexOfDevice(machine: PlacementMachine, id: string): number {
    const ds = machine.devices;
    for (let i = 0; i < ds.length; i++) if (ds[i].id === id) return i;
    return -1;
  }

  /** What the signature reads of each module, prepared once per module list (not per machine). */
  private shapeOf(modules: readonly PlacementModule[], modulesKey: string): ModuleShape {
    const last = this.lastShape;
    if (last && last.modules === modules && last.key === modulesKey) return last;
    const shape: ModuleShape = {
      modules,
      key: modulesKey,
      id: this.id(modulesKey),
      names: modules.map((m) => m.name),
      // A private copy: classes keep it as their module order whatever the caller does with its array.
      sorted: [...modules],
      bases: Float64Array.from(modules, (m) => m.traffic.pps),
      devicePins: modules.map((m) => (m.pin !== undefined && !TARGET_SET.has(m.pin) ? m.pin : null)),
    };
    this.lastShape = shape;
    return shape;
  }

  /** Room for `n` fields (the signature buffer is reused for every machine). */
  private reserve(n: number): Float64Array {
    if (n > this.sig.length) {
      const grown = new Float64Array(Math.max(n, this.sig.length * 2));
      grown.set(this.sig.subarray(0, this.len));
      this.sig = grown;
      this.bits = new Int32Array(grown.buffer);
    }
    return this.sig;
  }

  /**
   * Everything keyOf names, as numbers; lengths are written so fields cannot shift into each other.
   * Runs once per machine of a fleet plan: writes go straight into the reused buffer.
   */
  private writeSignature(machine: PlacementMachine, modules: readonly PlacementModule[], modulesKey: string): void {
    const shape = this.shapeOf(modules, modulesKey);
    const { names, bases, devicePins } = shape;
    const ds = machine.devices;
    let need = 5 + 3 * names.length;
    for (let i = 0; i < ds.length; i++) need += 2 + ds[i].flavours.length;
    let sig = this.reserve(need);
    let n = 0;
    sig[n++] = shape.id;
    sig[n++] = machine.hostCoreBudget;
    sig[n++] = ds.length;
    let hasCpu = 0;
    for (let i = 0; i < ds.length; i++) {
      const d = ds[i];
      if (d.kind === 'host-cpu') hasCpu = 1;
      sig[n++] = this.id(d.kind);
      const fs = d.flavours;
      sig[n++] = fs.length;
      for (let j = 0; j < fs.length; j++) sig[n++] = this.id(fs[j].profileId);
    }
    sig[n++] = hasCpu;
    const traffic = machine.traffic;
    const bucketed = this.logRatio !== 0;
    // Modules whose traffic scales with one factor have the same pps/base ratio, hence the same
    // bucket: reuse the last one when the ratio is exactly the same number (no logarithm).
    let lastRatio = NaN;
    let lastBucket = 0;
    for (let i = 0; i < names.length; i++) {
      const own = traffic === undefined ? undefined : traffic[names[i]];
      const base = bases[i];
      const pps = own === undefined ? base : own.pps;
      if (bucketed && pps > 0 && base > 0) {
        const ratio = pps / base;
        if (ratio !== lastRatio) {
          lastRatio = ratio;
          lastBucket = this.bucketOfRatio(ratio);
        }
        sig[n++] = lastBucket;
      } else {
        sig[n++] = EXACT_PPS;
        sig[n++] = pps;
      }
      const pin = devicePins[i];
      sig[n++] = pin === null ? NO_PIN : EquivalenceCache.indexOfDevice(machine, pin);
    }
    const cur = machine.currentPlacement;
    for (const name in cur) {
      const c = cur[name];
      this.len = n;
      sig = this.reserve(n + 4);
      sig[n++] = this.id(name);
      sig[n++] = EquivalenceCache.indexOfDevice(machine, c.deviceId);
      sig[n++] = this.id(c.target);
    }
    sig[n] = n;
    this.len = n + 1;
  }

  /**
   * Murmur3-style mix of the signature. Most fields are small integers: those are mixed as one
   * 32-bit word, other numbers as the two words of their bits.
   */
  private hash(): number {
    const sig = this.sig;
    const b = this.bits;
    const n = this.len;
    let h = 0x9747b28c;
    for (let i = 0; i < n; i++) {
      const x = sig[i];
      const w = x | 0;
      let k = w === x ? w : b[2 * i] ^ Math.imul(b[2 * i + 1], 0x85ebca6b);
      k = Math.imul(k, 0xcc9e2d51);
      k = (k << 15) | (k >>> 17);
      h ^= Math.imul(k, 0x1b873593);
      h = (h << 13) | (h >>> 19);
      h = (Math.imul(h, 5) + 0xe6546b64) | 0;
    }
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    // Kept within small-integer range so Map keys stay unboxed.
    return (h ^ (h >>> 16)) & 0x3fffffff;
  }

  private sameSignature(s: readonly number[]): boolean {
    if (s.length !== this.len) return false;
    const cur = this.sig;
    for (let i = 0; i < s.length; i++) if (s[i] !== cur[i]) return false;
    return true;
  }
}
