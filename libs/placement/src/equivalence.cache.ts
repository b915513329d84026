import { TARGETS } from '@ioplane/domain';
import { devicesOf, MachineProblem, problemFrom, relaxedCost, rowTraffic } from './machine.problem';
import { filterLayout, TrafficFilter, trafficFilter } from './problem.filter';
import { StaticFilter, staticFilter } from './static.filter';
import { solveRelaxed } from './chain.relaxation';
import { decisionsOf, infeasibleAs, MachineSolution, provenInfeasible, solutionOf, solveProblem, SolveOptions } from './machine.solver';
import { evaluate } from './plan.evaluate';
import { PortPath, resolvePorts } from './port.paths';
import { PlacementDevice, PlacementMachine, PlacementModule, TrafficDemand } from './placement.model';
import { ClassEntry, ClassSolver, EquivalenceClass, Kept, Shape } from './equivalence.class';

export type { EquivalenceClass } from './equivalence.class';

export interface CacheOptions extends SolveOptions {
  /**
   * Traffic entering a port is rounded up to the next power of this ratio (anchored at the chain's
   * declared rate) before solving. Default 1: no bucketing, every class is solved at its members'
   * real traffic. A ratio above 1 changes answers: a bucket planned at its top edge refuses
   * machines that have a plan at their real traffic and prices the rest above their optimum.
   */
  trafficBucketRatio?: number;
}

const TARGET_SET = new Set<string>(TARGETS);

/** What a class's static filter depends on: modules, cards, which card and port each ingress is, device pins. */
function staticsKey(machine: PlacementMachine, chain: readonly PlacementModule[], modulesKey: string, ports: readonly PortPath[]): string {
  const ds = machine.devices;
  let statics = modulesKey + '|';
  for (const d of ds) statics += d.kind + ':' + d.flavours.map((f) => f.profileId).join(':') + ':' + (d.interfaces?.length ?? 0) + ',';
  statics += '|';
  for (const p of ports) statics += p.index + ':' + p.card + '.' + p.port + ',';
  statics += '|';
  for (const m of chain)
    if (m.pin !== undefined && !TARGET_SET.has(m.pin)) statics += m.name + '@' + ds.findIndex((d) => d.id === m.pin) + ',';
  return statics;
}

/**
 * Candidate indices of a problem for StaticFilter option indices: a row's options are distinct
 * (device, flavour, target) triples, and so are its candidates. Null when an option is no
 * candidate of the built problem (which the check that follows would catch as well).
 */
function candidatesOf(p: MachineProblem, statics: StaticFilter, options: string): Int32Array | null {
  const a = new Int32Array(options.length);
  for (let r = 0; r < options.length; r++) {
    const o = statics[r][options.charCodeAt(r)];
    const cands = p.candidates[r];
    let k = 0;
    while (
      k < cands.length &&
      (cands[k].deviceIndex !== o.deviceIndex || cands[k].flavourIndex !== o.flavourIndex || cands[k].target !== o.target)
    )
      k++;
    if (k === cands.length) return null;
    a[r] = k;
  }
  return a;
}

/** A compacted infeasible class's solution on its rebuilt problem: the verdict was proven on the same inputs. */
function infeasibleFrom(p: MachineProblem, kept: Kept): MachineSolution {
  return {
    feasible: false,
    assignment: null,
    cost: kept.cost,
    lowerBound: kept.lowerBound,
    optimal: kept.optimal,
    solver: kept.solver,
    problem: p,
    decisions: [],
    infeasible: (kept.infeasible ?? []).map((x) => ({ ...x })),
    flavourSwitches: [],
  };
}

/** Lookup by a string signature of everything a machine's plan depends on except ids and names. */
export class EquivalenceCache implements ClassSolver {
  readonly classes: ClassEntry[] = [];
  private readonly byKey = new Map<string, ClassEntry>();
  private readonly shapes = new Map<string, Shape>();
  /** One copy of each module list and its names, shared by every class of it. */
  private readonly chains = new WeakMap<readonly PlacementModule[], { chain: PlacementModule[]; names: string[] }>();
  private readonly statics = new Map<string, StaticFilter>();
  private readonly filters = new Map<string, TrafficFilter>();
  /** A proven-infeasible solution per traffic filter: classes sharing one differ only in costs. */
  private readonly infeasibleOf = new WeakMap<TrafficFilter, MachineSolution>();
  private readonly logRatio: number;
  solves = 0;
  /** Of those, solved by the chain relaxation on numbers, without building the problem (see solveRelaxed). */
  relaxedSolves = 0;
  hits = 0;

  constructor(private readonly opts: CacheOptions = {}) {
    const r = opts.trafficBucketRatio ?? 1;
    this.logRatio = r > 1 ? Math.log(r) : 0;
  }

  bucketOf(pps: number, base: number): number {
    return Math.ceil(Math.log(pps / base) / this.logRatio - 1e-9);
  }

  /** Upper edge of the traffic bucket (the pps every member is planned for). */
  bucketPps(pps: number, base: number): number {
    if (this.logRatio === 0 || pps <= 0 || base <= 0) return pps;
    return base * Math.exp(this.bucketOf(pps, base) * this.logRatio);
  }

  private enteringOf(port: PortPath, chain: readonly PlacementModule[]): TrafficDemand {
    const base = chain[0]?.traffic.pps ?? 0;
    return { pps: this.bucketPps(port.entering.pps, base), meanPacketBytes: port.entering.meanPacketBytes };
  }

  /** The class of `machine` for this (chain-sorted) module list; its solution is computed on first read. */
  classFor(machine: PlacementMachine, chain: readonly PlacementModule[], modulesKey: string): EquivalenceClass {
    const ports = resolvePorts(machine, chain);
    const ds = machine.devices;
    const indexOf = (id: string) => ds.findIndex((d) => d.id === id);
    const statics = staticsKey(machine, chain, modulesKey, ports);
    // The shape: everything but traffic and current placement (see FilterLayout).
    let shape = statics + '|' + machine.hostCoreBudget + '|' + (machine.oneChainPerPort ? 1 : 0);
    if (machine.hookSlots) {
      const slots: Record<string, unknown> = {};
      for (const [id, v] of Object.entries(machine.hookSlots)) slots[id === 'host' ? id : String(indexOf(id))] = v;
      shape += '|' + JSON.stringify(slots);
    }
    let known = this.shapes.get(shape);
    if (!known) {
      known = { id: this.shapes.size, staticsKey: statics };
      this.shapes.set(shape, known);
    }
    let traffic = known.id + '|';
    ports.forEach((p) => {
      traffic += this.enteringOf(p, chain).pps + ',';
      const own = machine.ports[p.index].moduleTraffic;
      if (own) traffic += JSON.stringify(own);
    });
    if (machine.traffic) traffic += '|' + JSON.stringify(machine.traffic);
    let key = traffic + '|';
    for (const name of Object.keys(machine.currentPlacement).sort()) {
      const c = machine.currentPlacement[name];
      key +=
        name +
        '@' +
        indexOf(c.deviceId) +
        ':' +
        c.target +
        ':' +
        (c.interface === undefined ? '' : machine.ports.findIndex((p) => p.interface === c.interface)) +
        ',';
    }
    const hit = this.byKey.get(key);
    if (hit) {
      hit.members++;
      this.hits++;
      return hit;
    }
    let shared = this.chains.get(chain);
    if (!shared) {
      shared = { chain: [...chain], names: chain.map((m) => m.name) };
      this.chains.set(chain, shared);
    }
    const cls = new ClassEntry(this.classes.length, key, shared.names, this, machine, shared.chain, known, traffic.length);
    this.classes.push(cls);
    this.byKey.set(key, cls);
    return cls;
  }

  /**
   * A lower bound on the cost of the class `classFor(machine, chain, modulesKey)` would give, from
   * the statics and traffic its problem would be built from, without building it (see relaxedCost).
   */
  relaxedCost(machine: PlacementMachine, chain: readonly PlacementModule[], modulesKey: string): number {
    const devices = devicesOf(machine);
    const ports = resolvePorts(machine, chain);
    const key = staticsKey(machine, chain, modulesKey, ports);
    let statics = this.statics.get(key);
    if (!statics) {
      statics = staticFilter(chain, devices, ports, devices.length - 1);
      this.statics.set(key, statics);
    }
    const traffic = rowTraffic(
      machine,
      chain,
      ports,
      ports.map((p) => this.enteringOf(p, chain)),
    );
    return relaxedCost(machine, chain, devices, ports, statics, traffic);
  }

  /** Solve every class not solved yet, in the order they were found; `compact` drops their problems (see ClassEntry.compact). */
  solveAll(opts: { explain?: boolean; compact?: boolean } = {}): void {
    for (const c of this.classes) {
      if (opts.compact) {
        // outcome() solves a class not solved yet and leaves a compacted one as it is.
        c.outcome();
        c.compact();
      } else {
        const s = c.solution;
        if (opts.explain) decisionsOf(s);
      }
    }
  }

  /** Stop sharing a class's traffic filter, so a compacted class's problem can be collected. */
  forget(cls: ClassEntry): void {
    this.filters.delete(cls.trafficKey);
  }

  /**
   * A compacted class's solution again: the problem is rebuilt from the same inputs, so the kept
   * answer is its answer; it is checked anyway (feasible, same cost) and solved again if not.
   */
  rebuildClass(cls: ClassEntry, kept: Kept): MachineSolution {
    // Not shared through `filters`: a compacted class read again would keep its problem alive.
    const { p, statics } = this.problemOf(cls, false);
    if (kept.assignment === null) return kept.infeasible ? infeasibleFrom(p, kept) : provenInfeasible(p);
    const a = typeof kept.assignment === 'string' ? candidatesOf(p, statics, kept.assignment) : kept.assignment;
    const e = a ? evaluate(p, a) : null;
    if (a && e?.feasible && Math.abs(e.cost - kept.cost) <= 1e-9 * (1 + Math.abs(kept.cost))) {
      return solutionOf(p, a, kept.cost, kept.lowerBound, kept.optimal, kept.solver);
    }
    return solveProblem(p, this.opts);
  }

  /**
   * A class solved by the chain relaxation on numbers (solveRelaxed), its answer kept as a
   * compacted class keeps one; null when that does not settle it and the problem must be built.
   */
  relaxedClass(cls: ClassEntry): Kept | null {
    const { machine, chain, devices, ports, statics, layout } = this.inputsOf(cls);
    const r = solveRelaxed(
      machine,
      chain,
      devices,
      ports,
      statics,
      layout,
      ports.map((p) => this.enteringOf(p, chain)),
    );
    if (!r) return null;
    this.solves++;
    this.relaxedSolves++;
    // Proven infeasible: the problem is built, and the constraint named, only when the plan is read.
    if (r === 'infeasible') return { assignment: null, cost: Infinity, lowerBound: Infinity, optimal: true, solver: 'exact' };
    return {
      assignment: String.fromCharCode.apply(null, r.options as unknown as number[]),
      cost: r.cost,
      lowerBound: r.cost,
      optimal: true,
      solver: 'exact',
    };
  }

  private staticsOf(key: string, chain: readonly PlacementModule[], devices: PlacementDevice[], ports: PortPath[]): StaticFilter {
    let statics = this.statics.get(key);
    if (!statics) {
      statics = staticFilter(chain, devices, ports, devices.length - 1);
      this.statics.set(key, statics);
    }
    return statics;
  }

  /** Solve a class from its first member (called once per class, by ClassEntry.solution). */
  solveClass(cls: ClassEntry): MachineSolution {
    const { p, tf } = this.problemOf(cls);
    this.solves++;
    return this.solve(p, tf);
  }

  /** What a class's problem is built from: its first machine's devices and ports, its shape's statics and layout. */
  private inputsOf(cls: ClassEntry) {
    const machine = cls.first;
    const chain = cls.chain;
    const devices = devicesOf(machine);
    const ports = resolvePorts(machine, chain);
    const shape = cls.shape;
    const statics = (shape.statics ??= this.staticsOf(shape.staticsKey, chain, devices, ports));
    const layout = (shape.layout ??= filterLayout(machine, chain, devices, ports, statics));
    return { machine, chain, devices, ports, statics, layout };
  }

  private problemOf(cls: ClassEntry, share = true): { p: MachineProblem; tf: TrafficFilter; statics: StaticFilter } {
    const { machine, chain, devices, ports, statics, layout } = this.inputsOf(cls);
    const trafficKey = cls.trafficKey;
    let tf = this.filters.get(trafficKey);
    if (!tf) {
      const traffic = rowTraffic(
        machine,
        chain,
        ports,
        ports.map((p) => this.enteringOf(p, chain)),
      );
      tf = trafficFilter(machine, chain, devices, ports, statics, traffic, layout);
      if (share) this.filters.set(trafficKey, tf);
    }
    return { p: problemFrom(machine, chain, devices, ports, tf), tf, statics };
  }

  private solve(p: MachineProblem, tf: TrafficFilter): MachineSolution {
    const prior = this.infeasibleOf.get(tf);
    const reused = prior ? infeasibleAs(p, prior) : null;
    if (reused) return reused;
    const s = solveProblem(p, this.opts);
    if (!s.feasible && !prior) this.infeasibleOf.set(tf, s);
    return s;
  }

  /** Device ids of a member machine, in the order the class's device indices use. */
  static deviceIds(machine: PlacementMachine): string[] {
    return devicesOf(machine).map((d) => d.id);
  }
}
