import { MachineProblem, STAGES } from './machine.problem';
import type { Assignment } from './plan.evaluate';

/** The part of the `highs` package API this library uses (one-shot CPLEX LP solve). */
export interface HighsSolver {
  solve(
    lp: string,
    options?: Record<string, unknown>,
  ): {
    Status: string;
    ObjectiveValue: number;
    Columns: Record<string, { Primal: number }>;
  };
}

let loaded: Promise<HighsSolver> | null = null;

/** Load the HiGHS WASM build once per process. */
export function loadHighs(): Promise<HighsSolver> {
  loaded ??= (require('highs') as (opts?: unknown) => Promise<HighsSolver>)();
  return loaded;
}

/** Exact answers: no relative or absolute MIP gap, tight feasibility. */
export const EXACT_OPTIONS = {
  output_flag: false,
  mip_rel_gap: 0,
  mip_abs_gap: 0,
  primal_feasibility_tolerance: 1e-9,
  mip_feasibility_tolerance: 1e-9,
} as const;

export function num(x: number): string {
  if (x === 0) return '0';
  // LP text takes plain decimals or exponents; 15 significant digits round-trips the cost.
  return Number(x.toPrecision(15)).toString();
}

/** Join `coef var` terms as LP text, breaking long rows (the LP reader limits line length). */
export function terms(parts: [number, string][]): string {
  const out: string[] = [];
  for (const [c, v] of parts) {
    if (c === 0) continue;
    out.push(`${c < 0 ? '-' : '+'} ${num(Math.abs(c))} ${v}`);
  }
  const lines: string[] = [];
  for (let i = 0; i < out.length; i += 8) lines.push(out.slice(i, i + 8).join(' '));
  return lines.join('\n   ') || '0 x_dummy';
}

export function chunks(names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < names.length; i += 10) out.push(` ${names.slice(i, i + 10).join(' ')}`);
  return out;
}

export interface MachineMilp {
  lp: string;
  /** Column name of each candidate, per module. */
  x: string[][];
}

/**
 * The per-machine model: x[i][k] = 1 when module i takes candidate k; y[d][f] = 1 when device d
 * runs flavour f (only for devices offering a choice). Resource rows are divided by capacity so
 * bytes and core fractions sit on the same scale.
 */
export function machineMilp(p: MachineProblem): MachineMilp {
  const n = p.modules.length;
  const x = p.candidates.map((cs, i) => cs.map((_, k) => `x_${i}_${k}`));
  const obj: [number, string][] = [];
  const rows: string[] = [];
  const binaries: string[] = [];
  const flavoursUsed = p.devices.map(() => new Set<number>());
  p.candidates.forEach((cs) => cs.forEach((c) => flavoursUsed[c.deviceIndex].add(c.flavourIndex)));
  const ychoice = flavoursUsed.map((s, d) => s.size > 1 || [...s].some((f) => p.switchCost[d][f] > 0));
  const rowsByRes: [number, string][][] = p.resources.map(() => []);

  p.candidates.forEach((cs, i) => {
    rows.push(` one_${i}: ${terms(cs.map((_, k) => [1, x[i][k]]))} = 1`);
    cs.forEach((c, k) => {
      obj.push([c.cost, x[i][k]]);
      binaries.push(x[i][k]);
      c.res.forEach((r, j) => rowsByRes[r].push([c.amt[j] / p.resources[r].capacity, x[i][k]]));
      if (ychoice[c.deviceIndex]) rows.push(` fl_${i}_${k}: ${x[i][k]} - y_${c.deviceIndex}_${c.flavourIndex} <= 0`);
    });
  });
  for (let i = 0; i + 1 < n; i++) {
    // Order and exclusivity hold between neighbours of one port's chain only.
    if (p.chainStart[i + 1]) continue;
    const parts: [number, string][] = [
      ...p.candidates[i].map((c, k) => [c.stage, x[i][k]] as [number, string]),
      ...p.candidates[i + 1].map((c, k) => [-c.stage, x[i + 1][k]] as [number, string]),
    ];
    if (parts.some(([c]) => c !== 0)) rows.push(` chain_${i}: ${terms(parts)} <= 0`);
    // Pairs of positions the port's transition table forbids that the order row does not: x_a + x_b <= 1.
    p.candidates[i].forEach((a, ka) =>
      p.candidates[i + 1].forEach((b, kb) => {
        if (b.stage >= a.stage && !p.allowed[a.stage * STAGES + b.stage])
          rows.push(` ex_${i}_${ka}_${kb}: ${x[i][ka]} + ${x[i + 1][kb]} <= 1`);
      }),
    );
  }
  rowsByRes.forEach((parts, r) => {
    if (parts.length > 0 && p.resources[r].capacity > 0) rows.push(` res_${r}: ${terms(parts)} <= 1`);
  });
  ychoice.forEach((has, d) => {
    if (!has) return;
    const ys = [...flavoursUsed[d]].map((f) => `y_${d}_${f}`);
    rows.push(` dev_${d}: ${terms(ys.map((y) => [1, y]))} <= 1`);
    for (const f of flavoursUsed[d]) {
      obj.push([p.switchCost[d][f], `y_${d}_${f}`]);
      binaries.push(`y_${d}_${f}`);
    }
  });
  const lp = ['Minimize', ` obj: ${terms(obj)}`, 'Subject To', ...rows, 'Binary', ...chunks(binaries), 'End'].join('\n');
  return { lp, x };
}

export interface MilpResult {
  assignment: Assignment | null;
  cost: number;
  status: string;
}

/** Solve one machine exactly with HiGHS. */
export function milpSolve(highs: HighsSolver, p: MachineProblem): MilpResult {
  if (p.modules.length === 0) return { assignment: new Int32Array(0), cost: 0, status: 'Optimal' };
  if (p.candidates.some((c) => c.length === 0)) return { assignment: null, cost: Infinity, status: 'Infeasible' };
  const { lp, x } = machineMilp(p);
  const res = highs.solve(lp, EXACT_OPTIONS);
  if (res.Status !== 'Optimal') return { assignment: null, cost: Infinity, status: res.Status };
  const a = new Int32Array(p.modules.length).fill(-1);
  x.forEach((cols, i) =>
    cols.forEach((name, k) => {
      if ((res.Columns[name]?.Primal ?? 0) > 0.5) a[i] = k;
    }),
  );
  return { assignment: a, cost: res.ObjectiveValue, status: res.Status };
}
