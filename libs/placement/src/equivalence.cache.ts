import { TARGETS } from '@ioplane/domain';
import { buildProblem, devicesOf, trafficFor } from './machine.problem';
import { MachineSolution, solveProblem, SolveOptions } from './machine.solver';
import { PlacementMachine, PlacementModule, TrafficDemand } from './placement.model';

/**
 * Machines with the same hardware, budget, module set, traffic bucket, current placement and
 * pins get the same plan (up to device ids), so one solve serves the whole class, as Borg-style
 * schedulers do. Devices are compared by kind and profile ids: two devices with the same profile
 * ids are assumed to carry the same numbers, which holds when both come from the profile files.
 */
export interface EquivalenceClass {
  key: string;
  index: number;
  modules: string[];
  solution: MachineSolution;
  members: number;
}

export interface CacheOptions extends SolveOptions {
  /**
   * Traffic is rounded up to the next power of this ratio before solving, so plans stay feasible
   * for every member of a bucket (resource use only grows with pps). 1 disables bucketing.
   */
  trafficBucketRatio?: number;
}

const TARGET_SET = new Set<string>(TARGETS);

export class EquivalenceCache {
  readonly classes: EquivalenceClass[] = [];
  private readonly byKey = new Map<string, EquivalenceClass>();
  private readonly hwKeys = new WeakMap<object, string>();
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
    return Math.ceil(Math.log(pps / base) / this.logRatio - 1e-9);
  }

  /** Upper edge of the traffic bucket (the pps every member is planned for). */
  bucketPps(pps: number, base: number): number {
    if (this.logRatio === 0 || pps <= 0 || base <= 0) return pps;
    return base * Math.exp(this.bucketOf(pps, base) * this.logRatio);
  }

  private hardwareKey(machine: PlacementMachine): string {
    // Devices arrays are often shared by reference across a generated or cached fleet.
    const cached = this.hwKeys.get(machine.devices);
    if (cached !== undefined) return cached;
    let k = machine.devices.some((d) => d.kind === 'host-cpu') ? '' : 'cpu+';
    for (const d of machine.devices) {
      k += d.kind;
      for (const f of d.flavours) k += ':' + f.profileId;
      k += ',';
    }
    this.hwKeys.set(machine.devices, k);
    return k;
  }

  keyOf(machine: PlacementMachine, modules: readonly PlacementModule[], modulesKey: string): string {
    let k = this.hardwareKey(machine) + '|' + machine.hostCoreBudget + '|' + modulesKey + '|';
    for (const m of modules) {
      const t = trafficFor(machine, m);
      k += (this.logRatio === 0 || t.pps <= 0 || m.traffic.pps <= 0 ? 'p' + t.pps : this.bucketOf(t.pps, m.traffic.pps)) + ',';
      if (m.pin !== undefined && !TARGET_SET.has(m.pin)) k += 'pin' + machine.devices.findIndex((d) => d.id === m.pin) + ',';
    }
    const cur = machine.currentPlacement;
    for (const name in cur) {
      const c = cur[name];
      k += '|' + name + '@' + machine.devices.findIndex((d) => d.id === c.deviceId) + ':' + c.target;
    }
    return k;
  }

  /** The class of `machine` for this (chain-sorted) module list, solving it on first sight. */
  classFor(machine: PlacementMachine, sortedModules: readonly PlacementModule[], modulesKey: string): EquivalenceClass {
    const key = this.keyOf(machine, sortedModules, modulesKey);
    const hit = this.byKey.get(key);
    if (hit) {
      hit.members++;
      this.hits++;
      return hit;
    }
    const traffic: TrafficDemand[] = sortedModules.map((m) => {
      const t = trafficFor(machine, m);
      return { pps: this.bucketPps(t.pps, m.traffic.pps), meanPacketBytes: t.meanPacketBytes };
    });
    const p = buildProblem(machine, sortedModules, traffic);
    this.solves++;
    const cls: EquivalenceClass = {
      key,
      index: this.classes.length,
      modules: p.modules.map((m) => m.name),
      solution: solveProblem(p, this.opts),
      members: 1,
    };
    this.classes.push(cls);
    this.byKey.set(key, cls);
    return cls;
  }

  /** Device ids of a member machine, in the order the class's device indices use. */
  static deviceIds(machine: PlacementMachine): string[] {
    return devicesOf(machine).map((d) => d.id);
  }
}
