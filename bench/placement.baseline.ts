import {
  buildProblem,
  MachinePlan,
  MachineSolution,
  matchesSelector,
  materialise,
  PlacementMachine,
  PlacementModule,
  replicaDemand,
  sortChain,
  solveProblem,
} from '@ioplane/placement';

export const BASELINE_DESCRIPTION =
  "per machine, no classes: build its problem (every port's path), filter-and-score along each port (the cheapest hook that still fits what earlier modules left, no look-ahead); fleet-scoped replicas on the machines where that adds least, at most maxPerZone per zone; each chosen plan explained and bound to the machine's devices";

/** Fleet-scoped modules with the per-replica traffic a replica carries (as the engine plans them). */
export function scopedAsPlanned(modules: readonly PlacementModule[]): PlacementModule[] {
  return sortChain(modules.filter((m) => m.scope)).map((m) => ({ ...m, traffic: { ...m.traffic, pps: replicaDemand(m).pps } }));
}

/**
 * The filter-and-score baseline for a fleet: one machine at a time, the same plan shape and
 * explanations as the engine. Each fleet-scoped module is priced on every machine its selector
 * matches (the machine's plan with and without it, filter-and-score both), its replicas go where
 * they add least within the zone cap, and every machine's chosen plan is handed to `consume`.
 */
export function baselineFleet(
  fleet: readonly PlacementMachine[],
  modules: readonly PlacementModule[],
  consume: (i: number, plan: MachinePlan, modules: PlacementModule[]) => void,
): { replicas: number[][]; outputSeconds: number } {
  const base = sortChain(modules.filter((m) => !m.scope));
  const scoped = scopedAsPlanned(modules);
  const mask = new Int32Array(fleet.length);
  const solved = new Map<number, MachineSolution>();
  const setOf = (bits: number) => sortChain([...base, ...scoped.filter((_, j) => bits & (1 << j))]);
  const solve = (h: number, bits: number): MachineSolution => {
    const key = h * 64 + bits;
    let s = solved.get(key);
    if (!s) {
      s = solveProblem(buildProblem(fleet[h], setOf(bits)), { solver: 'greedy' });
      solved.set(key, s);
    }
    return s;
  };
  const replicas = scoped.map((m, j) => {
    const bit = 1 << j;
    const { replicas: want } = replicaDemand(modules.find((x) => x.name === m.name)!);
    const cap = m.scope!.maxPerZone ?? Infinity;
    const options: { h: number; delta: number }[] = [];
    for (let h = 0; h < fleet.length; h++) {
      if (!matchesSelector(fleet[h], m.scope!.selector)) continue;
      const now = solve(h, mask[h]);
      const next = solve(h, mask[h] | bit);
      if (now.feasible && next.feasible) options.push({ h, delta: next.cost - now.cost });
    }
    options.sort((a, b) => a.delta - b.delta || (fleet[a.h].hostname < fleet[b.h].hostname ? -1 : 1));
    const perZone = new Map<string, number>();
    const picked: number[] = [];
    for (const o of options) {
      if (picked.length === want) break;
      const z = fleet[o.h].zone;
      if ((perZone.get(z) ?? 0) >= cap) continue;
      perZone.set(z, (perZone.get(z) ?? 0) + 1);
      picked.push(o.h);
    }
    // All replicas or none, as the engine does.
    if (picked.length === want) for (const h of picked) mask[h] |= bit;
    return picked.length === want ? picked : [];
  });
  const chosen = fleet.map((_, h) => solve(h, mask[h]));
  // Writing the output (explain, bind, hand over) is timed apart: the engine writes the same.
  const t0 = performance.now();
  for (let h = 0; h < fleet.length; h++) {
    const s = chosen[h];
    consume(
      h,
      materialise(
        fleet[h],
        s.problem.devices.map((d) => d.id),
        s,
      ),
      setOf(mask[h]),
    );
  }
  return { replicas, outputSeconds: (performance.now() - t0) / 1000 };
}
