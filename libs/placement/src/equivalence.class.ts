import type { MachineSolution } from './machine.solver';
import type { FilterLayout } from './problem.filter';
import type { StaticFilter } from './static.filter';
import type { InfeasibleModule, PlacementMachine, PlacementModule, SolverKind } from './placement.model';

/**
 * Machines with the same cards, ingress ports (which card and port each one is), budget, agent
 * slots, module set, traffic bucket per port, current placement and pins get the same plan (up to
 * device ids and interface names), so one solve serves the whole class. Devices are compared by
 * kind and profile ids: two devices with the same profile ids carry the same numbers, which holds
 * when both come from the profile files.
 */
export interface EquivalenceClass {
  readonly key: string;
  readonly index: number;
  readonly modules: string[];
  /** Solved on first read: a fleet plan classifies every machine first, then solves each class. */
  readonly solution: MachineSolution;
  /** Feasibility and cost of the solution, without rebuilding a compacted class's problem. */
  outcome(): { feasible: boolean; cost: number };
  /** Keep a feasible solution's answer only, not its problem (rebuilt when the solution is read). */
  compact(): void;
  members: number;
}

/** What a compacted class keeps of its solution: its answer (or proven verdict), not its problem. */
export interface Kept {
  /** Null for a class proven infeasible: `infeasible` then says why. */
  /**
   * Candidate indices; or, as a string of char codes, StaticFilter option indices (solveRelaxed's
   * answer: a one-byte string of a few dozen bytes where a typed array costs three objects and an
   * off-heap store, for every machine of a fleet).
   */
  assignment: Int32Array | string | null;
  infeasible?: InfeasibleModule[];
  cost: number;
  lowerBound: number;
  optimal: boolean;
  solver: SolverKind;
}

export class ClassEntry implements EquivalenceClass {
  members = 1;
  private solved: MachineSolution | null = null;
  private kept: Kept | null = null;

  constructor(
    readonly index: number,
    readonly key: string,
    readonly modules: string[],
    private readonly cache: ClassSolver,
    readonly first: PlacementMachine,
    readonly chain: PlacementModule[],
    /** The machine shape (statics, layout) the class belongs to, interned once per shape. */
    readonly shape: Shape,
    /** Length of the key's prefix that identifies its traffic filter (see classFor). */
    private readonly trafficLength: number,
  ) {}

  /** The class's traffic filter key, cut from its key when needed (only the output path reads it). */
  get trafficKey(): string {
    return this.key.slice(0, this.trafficLength);
  }

  get solution(): MachineSolution {
    if (this.solved) return this.solved;
    if (!this.kept) return (this.solved = this.cache.solveClass(this));
    // A compacted class: its problem is rebuilt and the kept answer checked on it. A class of one
    // machine is read once, so the rebuilt problem is not kept either.
    const s = this.cache.rebuildClass(this, this.kept);
    if (this.members > 1) {
      this.solved = s;
      this.kept = null;
    }
    return s;
  }

  outcome(): { feasible: boolean; cost: number } {
    if (!this.kept && !this.solved) this.kept = this.cache.relaxedClass(this);
    if (this.kept) return { feasible: this.kept.assignment !== null, cost: this.kept.cost };
    const s = this.solution;
    return { feasible: s.feasible, cost: s.cost };
  }

  /**
   * Drop the problem of a feasible solution and keep only its answer. A fleet of distinct machines
   * holds one class per machine (and more for replica pricing): keeping every problem until the
   * plan dies costs far more in garbage collection than building each again when it is read.
   */
  compact(): void {
    const s = this.solved;
    if (!s) return;
    if (!s.feasible) {
      // An infeasible class keeps its verdict alone too: problems that live as long as the plan,
      // built where the short-lived ones are, teach V8 to allocate every later one straight into
      // the old generation (allocation-site pretenuring), and writing the plans out then cost 4x.
      this.kept = {
        assignment: null,
        infeasible: s.infeasible,
        cost: s.cost,
        lowerBound: s.lowerBound,
        optimal: s.optimal,
        solver: s.solver,
      };
    } else {
      if (!s.assignment || s.decisions) return;
      this.kept = { assignment: s.assignment, cost: s.cost, lowerBound: s.lowerBound, optimal: s.optimal, solver: s.solver };
    }
    this.solved = null;
    this.cache.forget(this);
  }
}

/**
 * What machines of one shape share (cards, ingress ports, budget, agent slots, module set): its
 * long signature is kept once here, and a class key names the shape by its number, so a fleet of
 * distinct machines does not keep a 300-character key per machine and per replica priced.
 */
export interface Shape {
  readonly id: number;
  readonly staticsKey: string;
  statics?: StaticFilter;
  layout?: FilterLayout;
}

/** What a class asks of the cache that made it: its first solve, its compacted answer rebuilt, its relaxed answer. */
export interface ClassSolver {
  solveClass(cls: ClassEntry): MachineSolution;
  rebuildClass(cls: ClassEntry, kept: Kept): MachineSolution;
  relaxedClass(cls: ClassEntry): Kept | null;
  forget(cls: ClassEntry): void;
}
