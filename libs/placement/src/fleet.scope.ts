import { chunks, EXACT_OPTIONS, HighsSolver, num } from './milp.solver';
import { PlacementMachine, PlacementModule } from './placement.model';

export interface ScopedReplica {
  systemId: string;
  hostname: string;
  zone: string;
}

export interface ScopedPlacement {
  module: string;
  requested: number;
  perReplicaPps: number;
  maxPerZone: number | null;
  /** Empty when infeasible: a fleet-scoped module gets all its replicas or none. */
  replicas: ScopedReplica[];
  feasible: boolean;
  /** When infeasible: `selector`, `maxPerZone` or `capacity`. */
  constraint?: string;
  message: string;
  solver: 'milp' | 'heuristic';
  /** Added cost over the machines' plans without it, hce. */
  cost: number;
}

export interface SelectionInput {
  machines: readonly PlacementMachine[];
  /** Fleet-scoped modules, chain-sorted, with per-replica traffic. */
  scoped: PlacementModule[];
  demands: { replicas: number; pps: number }[];
  /** Per scoped module, indices of machines its selector matches. */
  eligible: number[][];
  /** Optimal cost of machine h running the base modules plus the scoped ones in `mask`; null if infeasible. */
  costOf: (h: number, mask: number) => number | null;
  /**
   * A number never above costOf(h, mask) (Infinity only when that is null), cheaper to get: the
   * greedy then prices only the machines whose bound leaves them a chance among the cheapest.
   */
  lowerBoundOf?: (h: number, mask: number) => number;
  highs?: HighsSolver;
  milpMaxColumns: number;
}

export interface Selection {
  /** Per machine, the bitmask of scoped modules it runs. */
  maskOf: Int32Array;
  placements: ScopedPlacement[];
}

const MAX_JOINT = 3;

/**
 * Choose replica machines. Each machine's cost depends only on its own module set, so the fleet
 * problem is: per machine pick one subset of scoped modules, meet every replica count, respect
 * each zone cap, minimise the summed cost increase. Solved as a MILP with HiGHS (exact) when the
 * instance is small enough; otherwise greedily module by module, which is exact for a single
 * scoped module (a count plus per-zone caps is a matroid) and a heuristic beyond.
 */
export function selectReplicas(inp: SelectionInput): Selection {
  const n = inp.machines.length;
  const eligibleMask = new Int32Array(n);
  inp.eligible.forEach((hs, j) => hs.forEach((h) => (eligibleMask[h] |= 1 << j)));
  const baseCost = new Float64Array(n).fill(NaN);
  const base = (h: number) => {
    if (Number.isNaN(baseCost[h])) baseCost[h] = inp.costOf(h, 0) ?? Infinity;
    return baseCost[h];
  };
  if (inp.highs && inp.scoped.length <= MAX_JOINT) {
    const cols: { h: number; mask: number; delta: number }[] = [];
    let tooBig = false;
    for (let h = 0; h < n && !tooBig; h++) {
      const e = eligibleMask[h];
      if (!e || !Number.isFinite(base(h))) continue;
      for (let mask = e; mask; mask = (mask - 1) & e) {
        const c = inp.costOf(h, mask);
        if (c !== null) cols.push({ h, mask, delta: c - base(h) });
        if (cols.length > inp.milpMaxColumns) tooBig = true;
      }
    }
    if (!tooBig) {
      const r = milpSelect(inp, cols);
      if (r) return r;
    }
  }
  return greedySelect(inp, base);
}

function milpSelect(inp: SelectionInput, cols: { h: number; mask: number; delta: number }[]): Selection | null {
  const rows: string[] = [];
  const byMachine = new Map<number, string[]>();
  const name = (i: number) => `z${i}`;
  cols.forEach((c, i) => byMachine.set(c.h, [...(byMachine.get(c.h) ?? []), name(i)]));
  for (const [h, vs] of byMachine) if (vs.length > 1) rows.push(` m${h}: ${vs.join(' + ')} <= 1`);
  inp.scoped.forEach((m, j) => {
    const vs = cols.map((c, i) => (c.mask & (1 << j) ? name(i) : null)).filter((v): v is string => v !== null);
    rows.push(` r${j}: ${vs.length ? vs.join(' + ') : '0 z_none'} = ${inp.demands[j].replicas}`);
    const k = m.scope!.maxPerZone;
    if (k === undefined) return;
    const zones = new Map<string, string[]>();
    cols.forEach((c, i) => {
      if (!(c.mask & (1 << j))) return;
      const z = inp.machines[c.h].zone;
      zones.set(z, [...(zones.get(z) ?? []), name(i)]);
    });
    let zi = 0;
    for (const vs2 of zones.values()) if (vs2.length > k) rows.push(` k${j}_${zi++}: ${vs2.join(' + ')} <= ${k}`);
  });
  const obj = cols.map((c, i) => `${c.delta < 0 ? '-' : '+'} ${num(Math.abs(c.delta))} ${name(i)}`);
  const objLines: string[] = [];
  for (let i = 0; i < obj.length; i += 8) objLines.push(obj.slice(i, i + 8).join(' '));
  const lp = [
    'Minimize',
    ` obj: ${objLines.join('\n   ') || '0 z_none'}`,
    'Subject To',
    ...rows.map(wrap),
    'Binary',
    ...chunks(cols.map((_, i) => name(i))),
    'End',
  ].join('\n');
  const res = inp.highs!.solve(lp, EXACT_OPTIONS);
  if (res.Status !== 'Optimal') return null;
  const maskOf = new Int32Array(inp.machines.length);
  const chosen = cols.filter((_, i) => (res.Columns[name(i)]?.Primal ?? 0) > 0.5);
  for (const c of chosen) maskOf[c.h] = c.mask;
  const placements = inp.scoped.map((m, j): ScopedPlacement => {
    const mine = chosen.filter((c) => c.mask & (1 << j));
    return {
      module: m.name,
      requested: inp.demands[j].replicas,
      perReplicaPps: inp.demands[j].pps,
      maxPerZone: m.scope!.maxPerZone ?? null,
      replicas: mine.map((c) => replica(inp.machines[c.h])),
      feasible: true,
      solver: 'milp',
      message: `${mine.length} replicas chosen by MILP (optimal over all machines and zone caps)`,
      // Joint subsets share their delta; attribute it to the first scoped module in the subset.
      cost: mine.reduce((s, c) => s + ((c.mask & ((1 << j) - 1)) === 0 ? c.delta : 0), 0),
    };
  });
  return { maskOf, placements };
}

/** `a + b + ...` rows can be long; the LP reader prefers short lines. */
function wrap(row: string): string {
  const parts = row.split(' + ');
  if (parts.length <= 10) return row;
  const lines: string[] = [];
  for (let i = 0; i < parts.length; i += 10) lines.push(parts.slice(i, i + 10).join(' + '));
  return lines.join('\n   + ');
}

function replica(m: PlacementMachine): ScopedReplica {
  return { systemId: m.systemId, hostname: m.hostname, zone: m.zone };
}

function greedySelect(inp: SelectionInput, base: (h: number) => number): Selection {
  const maskOf = new Int32Array(inp.machines.length);
  const current = new Float64Array(inp.machines.length).fill(NaN);
  const byDelta = (a: { h: number; delta: number }, b: { h: number; delta: number }) =>
    a.delta - b.delta || (inp.machines[a.h].hostname < inp.machines[b.h].hostname ? -1 : 1);
  const placements = inp.scoped.map((m, j): ScopedPlacement => {
    const want = inp.demands[j].replicas;
    const k = m.scope!.maxPerZone ?? Infinity;
    const bit = 1 << j;
    const common = {
      module: m.name,
      requested: want,
      perReplicaPps: inp.demands[j].pps,
      maxPerZone: m.scope!.maxPerZone ?? null,
      solver: 'heuristic' as const,
    };
    const eligible = inp.eligible[j];
    const zonesOf = new Set(eligible.map((h) => inp.machines[h].zone));
    if (eligible.length < want) {
      return {
        ...common,
        replicas: [],
        feasible: false,
        constraint: 'selector',
        cost: 0,
        message: `selector matches ${eligible.length} machines, ${want} replicas requested`,
      };
    }
    if (zonesOf.size * k < want) {
      return {
        ...common,
        replicas: [],
        feasible: false,
        constraint: 'maxPerZone',
        cost: 0,
        message: `${zonesOf.size} zones x at most ${k} per zone < ${want} replicas`,
      };
    }
    for (const h of eligible) if (Number.isNaN(current[h])) current[h] = base(h);
    const early = inp.lowerBoundOf ? cheapestFirst(inp, eligible, current, maskOf, bit, want, k, byDelta) : null;
    if (early) {
      for (const o of early) {
        maskOf[o.h] |= bit;
        current[o.h] += o.delta;
      }
      return {
        ...common,
        replicas: early.map((o) => replica(inp.machines[o.h])),
        feasible: true,
        cost: early.reduce((s, o) => s + o.delta, 0),
        message: `${want} cheapest machines by added cost, at most ${Number.isFinite(k) ? k : 'any'} per zone${inp.scoped.length === 1 ? ' (exact for one scoped module)' : ''}`,
      };
    }
    const options: { h: number; delta: number }[] = [];
    for (const h of eligible) {
      if (!Number.isFinite(current[h])) continue;
      const c = inp.costOf(h, maskOf[h] | bit);
      if (c !== null) options.push({ h, delta: c - current[h] });
    }
    options.sort(byDelta);
    const perZone = new Map<string, number>();
    const picked: { h: number; delta: number }[] = [];
    for (const o of options) {
      if (picked.length === want) break;
      const z = inp.machines[o.h].zone;
      if ((perZone.get(z) ?? 0) >= k) continue;
      perZone.set(z, (perZone.get(z) ?? 0) + 1);
      picked.push(o);
    }
    if (picked.length < want) {
      const constraint = options.length < want ? 'capacity' : 'maxPerZone';
      const message =
        constraint === 'capacity'
          ? `only ${options.length} of ${eligible.length} matching machines can run it next to their modules; ${want} replicas requested`
          : `${options.length} machines could run it, but at most ${k} per zone leaves ${picked.length} < ${want}`;
      return { ...common, replicas: [], feasible: false, constraint, cost: 0, message };
    }
    for (const o of picked) {
      maskOf[o.h] |= bit;
      current[o.h] += o.delta;
    }
    return {
      ...common,
      replicas: picked.map((o) => replica(inp.machines[o.h])),
      feasible: true,
      cost: picked.reduce((s, o) => s + o.delta, 0),
      message: `${want} cheapest machines by added cost, at most ${Number.isFinite(k) ? k : 'any'} per zone${inp.scoped.length === 1 ? ' (exact for one scoped module)' : ''}`,
    };
  });
  return { maskOf, placements };
}

/**
 * The greedy's picks, pricing machines in order of their lower bound and stopping once the picks
 * are settled: every machine not priced yet has a bound, hence an added cost, above every priced
 * one the picks went through, so pricing all would sort them after and pick the same. Null when
 * that never happens (too few can run it: the caller prices every machine and says why) or when
 * hostnames repeat (the sort's tie-break would then depend on which machines were priced).
 */
function cheapestFirst(
  inp: SelectionInput,
  eligible: readonly number[],
  current: Float64Array,
  maskOf: Int32Array,
  bit: number,
  want: number,
  k: number,
  byDelta: (a: { h: number; delta: number }, b: { h: number; delta: number }) => number,
): { h: number; delta: number }[] | null {
  const names = new Set<string>();
  const pending: { h: number; bound: number }[] = [];
  for (const h of eligible) {
    if (names.size === names.add(inp.machines[h].hostname).size) return null;
    if (!Number.isFinite(current[h])) continue;
    const lb = inp.lowerBoundOf!(h, maskOf[h] | bit);
    // Sums in another order than the solver's: a margin far above their rounding keeps it a bound.
    const bound = lb - current[h] - 1e-9 * (1 + Math.abs(lb) + Math.abs(current[h]));
    if (bound < Infinity) pending.push({ h, bound });
  }
  pending.sort((a, b) => a.bound - b.bound);
  const priced: { h: number; delta: number }[] = [];
  // Settling is checked after each batch: small enough to price few beyond the last pick needed.
  const batch = Math.max(16, Math.ceil(want / 8));
  for (let next = 0; next < pending.length;) {
    const fresh: { h: number; delta: number }[] = [];
    for (const end = Math.min(pending.length, next + batch); next < end; next++) {
      const h = pending[next].h;
      const c = inp.costOf(h, maskOf[h] | bit);
      if (c !== null) fresh.push({ h, delta: c - current[h] });
    }
    const settledBelow = next < pending.length ? pending[next].bound : Infinity;
    // The batch sorted and merged in, not everything sorted again: a 100,000-machine fleet prices
    // tens of thousands over dozens of batches. byDelta is a total order, so the result is the same.
    fresh.sort(byDelta);
    mergeInto(priced, fresh, byDelta);
    const perZone = new Map<string, number>();
    const picked: { h: number; delta: number }[] = [];
    for (const o of priced) {
      if (picked.length === want || !(o.delta < settledBelow)) break;
      const z = inp.machines[o.h].zone;
      if ((perZone.get(z) ?? 0) >= k) continue;
      perZone.set(z, (perZone.get(z) ?? 0) + 1);
      picked.push(o);
    }
    if (picked.length === want) return picked;
    if (next === pending.length) return null;
  }
  return null;
}

/** Merge sorted `more` into sorted `into` (in place), by `order`. */
function mergeInto<T>(into: T[], more: readonly T[], order: (a: T, b: T) => number): void {
  if (more.length === 0) return;
  let i = into.length - 1;
  let j = more.length - 1;
  into.length += more.length;
  for (let k = into.length - 1; j >= 0; k--) {
    if (i >= 0 && order(into[i], more[j]) > 0) into[k] = into[i--];
    else into[k] = more[j--];
  }
}
