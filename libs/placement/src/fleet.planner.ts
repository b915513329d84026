import { CacheOptions, EquivalenceCache, EquivalenceClass } from './equivalence.cache';
import { sortChain } from './machine.problem';
import { materialise } from './plan.materialise';
import { HighsSolver } from './milp.solver';
import { MachinePlan, MachineSelector, PlacementMachine, PlacementModule } from './placement.model';
import { ScopedPlacement, selectReplicas } from './fleet.scope';

export interface FleetPlanOptions extends CacheOptions {
  /** A loaded HiGHS (`await loadHighs()`): fleet-scoped modules are then chosen by MILP. */
  highs?: HighsSolver;
  /** Above this many selection columns the fleet-scoped choice uses the greedy instead. */
  milpMaxColumns?: number;
}

/**
 * A fleet plan, compact: one solved class per equivalence class and, per machine, the class it
 * belongs to. `machinePlan(plan, i)` turns one machine's entry into a full MachinePlan with its
 * own device ids; nothing is lost by not doing that for all 10,000 machines up front.
 */
export interface FleetPlan {
  machines: readonly PlacementMachine[];
  classOf: Int32Array;
  classes: EquivalenceClass[];
  scoped: ScopedPlacement[];
  /** True only when every machine is feasible and every fleet-scoped module got its replicas. */
  complete: boolean;
  stats: {
    machines: number;
    classes: number;
    solves: number;
    /** Of the solves, settled by the chain relaxation on numbers (no problem built). */
    relaxedSolves: number;
    cacheHits: number;
    infeasibleMachines: number;
    seconds: number;
  };
}

export function matchesSelector(
  m: Pick<PlacementMachine, 'zone' | 'pool' | 'hostname' | 'tags'> & Partial<PlacementMachine>,
  s: MachineSelector,
): boolean {
  if (s.zones?.length && !s.zones.includes(m.zone)) return false;
  if (s.pools?.length && !s.pools.includes(m.pool)) return false;
  if (s.hostnames?.length && !s.hostnames.includes(m.hostname)) return false;
  if (s.tags?.length && !s.tags.every((t) => m.tags.includes(t))) return false;
  return true;
}

/** Per-replica view of a fleet-scoped module: replicas and the pps each one carries. */
export function replicaDemand(m: PlacementModule): { replicas: number; pps: number } {
  const s = m.scope!;
  const replicas = s.replicas ?? Math.max(1, Math.ceil((s.totalPps ?? m.traffic.pps) / m.traffic.pps));
  return { replicas, pps: s.totalPps !== undefined ? s.totalPps / replicas : m.traffic.pps };
}

function modulesKey(mods: readonly PlacementModule[]): string {
  return mods.map((m) => `${m.name}@${m.version}`).join(',');
}

export function planFleet(
  machines: readonly PlacementMachine[],
  modules: readonly PlacementModule[],
  opts: FleetPlanOptions = {},
): FleetPlan {
  const t0 = performance.now();
  const cache = new EquivalenceCache(opts);
  const base = sortChain(modules.filter((m) => !m.scope));
  const scoped = sortChain(modules.filter((m) => m.scope)).map((m) => {
    const d = replicaDemand(m);
    return { ...m, traffic: { ...m.traffic, pps: d.pps } };
  });
  const classOf = new Int32Array(machines.length);
  let scopedPlans: ScopedPlacement[] = [];

  if (scoped.length === 0) {
    const key = modulesKey(base);
    for (let i = 0; i < machines.length; i++) classOf[i] = cache.classFor(machines[i], base, key).index;
  } else {
    const combos = new Map<number, { mods: PlacementModule[]; key: string }>();
    const comboOf = (mask: number) => {
      let c = combos.get(mask);
      if (!c) {
        const mods = sortChain([...base, ...scoped.filter((_, j) => mask & (1 << j))]);
        c = { mods, key: modulesKey(mods) };
        combos.set(mask, c);
      }
      return c;
    };
    // The class each (machine, module set) pair was found in, so the final pass over every machine
    // looks it up instead of building its key again (most machines were priced with their mask).
    const found = new Map<number, Int32Array>();
    const classAt = (h: number, mask: number): EquivalenceClass => {
      let byMachine = found.get(mask);
      if (!byMachine) found.set(mask, (byMachine = new Int32Array(machines.length).fill(-1)));
      const known = byMachine[h];
      if (known >= 0) return cache.classes[known];
      const c = comboOf(mask);
      const cls = cache.classFor(machines[h], c.mods, c.key);
      byMachine[h] = cls.index;
      return cls;
    };
    const selection = selectReplicas({
      machines,
      scoped,
      demands: modules.filter((m) => m.scope).map((m) => replicaDemand(m)),
      eligible: scoped.map((m) => machines.map((mm, h) => (matchesSelector(mm, m.scope!.selector) ? h : -1)).filter((h) => h >= 0)),
      costOf: (h, mask) => {
        const c = classAt(h, mask);
        const o = c.outcome();
        // Pricing keeps the answer, not the problem: most priced classes are never read again.
        c.compact();
        return o.feasible ? o.cost : null;
      },
      lowerBoundOf: (h, mask) => {
        const c = comboOf(mask);
        return cache.relaxedCost(machines[h], c.mods, c.key);
      },
      highs: opts.highs,
      milpMaxColumns: opts.milpMaxColumns ?? 20_000,
    });
    scopedPlans = selection.placements;
    for (let h = 0; h < machines.length; h++) classOf[h] = classAt(h, selection.maskOf[h]).index;
  }

  // Explanations stay lazy: they are derived when a member's plan is read (machinePlan), and kept
  // only for classes with several members.
  cache.solveAll({ compact: true });
  for (const c of cache.classes) c.members = 0;
  let infeasibleMachines = 0;
  for (let i = 0; i < machines.length; i++) {
    const c = cache.classes[classOf[i]];
    c.members++;
    if (!c.outcome().feasible) infeasibleMachines++;
  }
  const classes = cache.classes;
  return {
    machines,
    classOf,
    classes,
    scoped: scopedPlans,
    complete: infeasibleMachines === 0 && scopedPlans.every((s) => s.feasible),
    stats: {
      machines: machines.length,
      classes: classes.filter((c) => c.members > 0).length,
      solves: cache.solves,
      relaxedSolves: cache.relaxedSolves,
      cacheHits: cache.hits,
      infeasibleMachines,
      seconds: (performance.now() - t0) / 1000,
    },
  };
}

/** The full plan of machine `i` (index into plan.machines), with its own device ids. */
export function machinePlan(plan: FleetPlan, i: number): MachinePlan {
  const machine = plan.machines[i];
  const cls = plan.classes[plan.classOf[i]];
  return materialise(machine, EquivalenceCache.deviceIds(machine), cls.solution, cls.members > 1);
}

export function machinePlans(plan: FleetPlan): MachinePlan[] {
  return plan.machines.map((_, i) => machinePlan(plan, i));
}
