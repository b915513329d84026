import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import { loadProfiles } from '@ioplane/profiles';
import {
  buildProblem,
  FleetPlan,
  heuristicSolve,
  loadHighs,
  MachinePlan,
  machinePlan,
  materialise,
  milpSolve,
  PlacementMachine,
  PlacementModule,
  planFleet,
  randomInstance,
  seededRandom,
  solveProblem,
  solveProblemMilp,
  sortChain,
  validatePlan,
} from '@ioplane/placement';
import { BASELINE_DESCRIPTION, baselineFleet, scopedAsPlanned } from './placement.baseline';
import { benchFleet, benchModules, distinctInputs } from './placement.fleet';

/**
 * npm run bench:placement  (BENCH_SHORT=1 for CI: 1,000 machines, no 100,000-machine run)
 *
 * Both sides produce the same thing for every machine: a plan on the path model, explained (every
 * chosen hook's reasons, every refused position with its rule), bound to the machine's device ids
 * and interfaces, and passed through the validator against the raw machine. The whole of that is
 * timed, each side the same number of runs after the same warm-up. Fails (exit 1) on a broken,
 * unexplained or wrongly infeasible plan, never on time. key=value lines come last.
 */

/** What one side produced, per machine: checked as it is handed over, then dropped. */
class Record {
  readonly feasible: Uint8Array;
  readonly cost: Float64Array;
  readonly modules: PlacementModule[][];
  broken = 0;
  unexplained = 0;
  hops = 0;

  constructor(n: number) {
    this.feasible = new Uint8Array(n);
    this.cost = new Float64Array(n);
    this.modules = new Array(n);
  }

  take(i: number, machine: PlacementMachine, modules: PlacementModule[], plan: MachinePlan, side: string): void {
    const v = validatePlan(machine, modules, plan);
    if (v.length) {
      if (this.broken++ < 5) console.error(`broken ${side} plan on ${machine.hostname}:`, JSON.stringify(v));
    }
    this.feasible[i] = plan.feasible ? 1 : 0;
    this.cost[i] = plan.cost;
    this.modules[i] = modules;
    for (const path of plan.paths) {
      this.hops += path.hops.length;
      for (const h of path.hops) if (h.reasons.length === 0) this.unexplained++;
    }
  }
}

/** The engine's side: plan the fleet, then each machine's plan bound to its devices and validated. */
function engineRun(
  fleet: readonly PlacementMachine[],
  modules: readonly PlacementModule[],
): { plan: FleetPlan; rec: Record; outputSeconds: number } {
  const rec = new Record(fleet.length);
  const plan = planFleet(fleet, modules);
  const t0 = performance.now();
  const base = sortChain(modules.filter((m) => !m.scope));
  const scoped = scopedAsPlanned(modules);
  const chosen = scoped.map((m) => new Set(plan.scoped.find((s) => s.module === m.name)?.replicas.map((r) => r.systemId) ?? []));
  const sets = new Map<number, PlacementModule[]>();
  for (let i = 0; i < fleet.length; i++) {
    let bits = 0;
    chosen.forEach((s, j) => (bits |= s.has(fleet[i].systemId) ? 1 << j : 0));
    let mods = sets.get(bits);
    if (!mods) sets.set(bits, (mods = sortChain([...base, ...scoped.filter((_, j) => bits & (1 << j))])));
    rec.take(i, fleet[i], mods, machinePlan(plan, i), 'engine');
  }
  return { plan, rec, outputSeconds: (performance.now() - t0) / 1000 };
}

function baselineRun(
  fleet: readonly PlacementMachine[],
  modules: readonly PlacementModule[],
): { replicas: number[][]; rec: Record; outputSeconds: number } {
  const rec = new Record(fleet.length);
  const { replicas, outputSeconds } = baselineFleet(fleet, modules, (i, plan, mods) => rec.take(i, fleet[i], mods, plan, 'baseline'));
  return { replicas, rec, outputSeconds };
}

/** `warm` untimed runs, then `runs` timed ones; the last result is kept. */
function timed<T>(work: () => T, warm: number, runs: number, each?: (r: T, cpuSeconds: number) => void): { result: T; seconds: number[] } {
  let result = warm > 0 ? work() : (undefined as T);
  for (let i = 1; i < warm; i++) {
    result = undefined as T;
    result = work();
  }
  const seconds: number[] = [];
  for (let i = 0; i < runs; i++) {
    // The previous run's output is not kept alive through this one (its heap would be this run's GC work).
    result = undefined as T;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    result = work();
    seconds.push((performance.now() - t0) / 1000);
    const c = process.cpuUsage(c0);
    each?.(result, (c.user + c.system) / 1e6);
  }
  return { result, seconds };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const spread = (xs: readonly number[]) =>
  `median ${median(xs).toFixed(3)} s, min ${Math.min(...xs).toFixed(3)}, max ${Math.max(...xs).toFixed(3)}, ${xs.length} runs`;

type Kv = [key: string, value: string | number, what: string];

/** Everything but the 100,000-machine run, reduced to what is printed. */
async function fleetRuns(short: boolean): Promise<{ lines: string[]; kv: Kv[]; broken: number; failed: boolean }> {
  const lines: string[] = [];
  const machinesN = short ? 1_000 : 10_000;
  const warm = 1;
  const runs = short ? 3 : 5;
  const gapSample = short ? 60 : 300;
  const instancesN = short ? 30 : 200;
  const profiles = loadProfiles();
  const modules = benchModules(profiles, machinesN);
  const fleet = benchFleet(profiles, machinesN);
  const ports = fleet.reduce((n, m) => n + m.ports.length, 0);
  const distinct = distinctInputs(fleet);

  // Per timed run, the part spent writing the output (explain, bind, validate every machine).
  const engineOutput: number[] = [];
  const baseOutput: number[] = [];
  const loadStart = os.loadavg()[0].toFixed(2);
  const engineCpu: number[] = [];
  const baseCpu: number[] = [];
  const engine = timed(
    () => engineRun(fleet, modules),
    warm,
    runs,
    (r, cpu) => (engineOutput.push(r.outputSeconds), engineCpu.push(cpu)),
  );
  const base = timed(
    () => baselineRun(fleet, modules),
    warm,
    runs,
    (r, cpu) => (baseOutput.push(r.outputSeconds), baseCpu.push(cpu)),
  );
  const { plan, rec: eng } = engine.result;
  const { rec: bas } = base.result;
  let broken = eng.broken + bas.broken;
  const unexplained = eng.unexplained + bas.unexplained;

  // Every machine the engine calls infeasible goes to the exhaustive solver at its real traffic.
  let wronglyInfeasible = 0;
  let engineInfeasible = 0;
  let baselineDeadEnds = 0;
  for (let i = 0; i < fleet.length; i++) {
    if (!bas.feasible[i] && eng.feasible[i]) baselineDeadEnds++;
    if (eng.feasible[i]) continue;
    engineInfeasible++;
    const s = solveProblem(buildProblem(fleet[i], eng.modules[i]), { solver: 'exact' });
    if (s.feasible) {
      if (wronglyInfeasible++ < 5)
        console.error(`engine called ${fleet[i].hostname} infeasible; the exhaustive search places it at ${s.cost.toFixed(4)} hce`);
    }
  }

  // The engine's cost on fleet machines against HiGHS's optimum of the same machine at its real traffic.
  const highs = await loadHighs();
  const gaps: number[] = [];
  let highsDisagrees = 0;
  const feasibleIdx = [...fleet.keys()].filter((i) => eng.feasible[i]);
  const step = Math.max(1, Math.floor(feasibleIdx.length / gapSample));
  for (let k = 0; k < feasibleIdx.length && gaps.length < gapSample; k += step) {
    const i = feasibleIdx[k];
    const opt = milpSolve(highs, buildProblem(fleet[i], eng.modules[i]));
    if (!opt.assignment) {
      highsDisagrees++;
      continue;
    }
    gaps.push((100 * (eng.cost[i] - opt.cost)) / opt.cost);
  }
  const gapMean = gaps.reduce((s, g) => s + g, 0) / Math.max(1, gaps.length);
  const gapMax = Math.max(0, ...gaps);
  if (gaps.some((g) => g < -1e-5)) {
    console.error('the engine beat the HiGHS optimum: a solver or model bug');
    broken++;
  }

  // Generated instances: every solver's plan through the validator; the heuristic alone against HiGHS.
  const rng = seededRandom(99);
  const heuristicGaps: number[] = [];
  let solvedN = 0;
  for (let tries = 0; solvedN < instancesN && tries < instancesN * 20; tries++) {
    const { machine, modules: mods } = randomInstance(rng, { budgetScale: [0.5, 1, 2, 4][tries % 4] });
    const p = buildProblem(machine, mods);
    const opt = milpSolve(highs, p);
    if (!opt.assignment) continue;
    solvedN++;
    const ids = p.devices.map((d) => d.id);
    for (const s of [solveProblemMilp(highs, p), solveProblem(p, { solver: 'exact' }), solveProblem(p, { solver: 'heuristic' })]) {
      const v = validatePlan(machine, mods, materialise(machine, ids, s));
      if (v.length) {
        broken++;
        console.error(`broken ${s.solver} plan on a generated instance:`, JSON.stringify(v));
      }
    }
    const h = heuristicSolve(p);
    if (h.assignment) heuristicGaps.push((100 * (h.cost - opt.cost)) / opt.cost);
  }

  const engMedian = median(engine.seconds);
  const baseMedian = median(base.seconds);
  const scopedLine = plan.scoped
    .map((s) => `${s.module}: ${s.replicas.length}/${s.requested} replicas, at most ${s.maxPerZone} per zone`)
    .join('; ');
  lines.push(
    `fleet: ${fleet.length} machines, ${ports} ingress ports (1 to 4 each, heavy-tailed traffic drawn per port), ${modules.length - 1} chained modules with pass fractions + 1 fleet-scoped (${scopedLine})`,
  );
  lines.push(
    `engine: ${spread(engine.seconds)}; ${plan.stats.solves} problems solved for ${plan.stats.classes} classes in use (${plan.stats.relaxedSolves} settled by the slot- and firmware-aware chain relaxation without building the problem, the rest built and searched), ${eng.hops} hops`,
  );
  lines.push(`baseline: ${BASELINE_DESCRIPTION}`);
  lines.push(`baseline: ${spread(base.seconds)}`);
  lines.push(
    `both sides: ${warm} warm-up run, then ${runs} timed runs of plan + explain + bind + validate for every machine; ${broken} broken plans, ${unexplained} hops without reasons`,
  );
  lines.push(
    `infeasible: engine ${engineInfeasible} machines (every one checked by the exhaustive solver at its real traffic: ${wronglyInfeasible} placeable), baseline dead-ends on ${baselineDeadEnds} the engine plans`,
  );
  lines.push(
    `cost vs HiGHS on ${gaps.length} fleet machines at their real traffic: mean ${gapMean.toFixed(4)} %, max ${gapMax.toFixed(4)} %${highsDisagrees ? `; HiGHS found no plan for ${highsDisagrees}` : ''}`,
  );

  const kv: Kv[] = [
    ['placement.machines', fleet.length, 'machines in the timed fleet'],
    ['placement.ingress_ports', ports, 'ingress ports over the fleet (each carries the whole chain)'],
    [
      'placement.distinct_inputs',
      distinct,
      "machines whose hardware, ports, traffic and current placement differ from every other machine's",
    ],
    [
      'placement.distinct_problems',
      plan.stats.solves,
      'machine problems the engine actually solved (replica pricing included), at real traffic',
    ],
    [
      'placement.relaxation_settled',
      plan.stats.relaxedSolves,
      'of those, solved by the chain relaxation on numbers (its plan fits every constraint, so it is optimal) without building the problem',
    ],
    [
      'placement.fleet10k_median_seconds',
      engMedian.toFixed(3),
      `engine median wall time (plan, explain, bind, validate every machine), one core; ${machinesN} machines`,
    ],
    ['placement.fleet10k_min_seconds', Math.min(...engine.seconds).toFixed(3), 'engine fastest run'],
    ['placement.fleet10k_max_seconds', Math.max(...engine.seconds).toFixed(3), 'engine slowest run'],
    ['placement.baseline_median_seconds', baseMedian.toFixed(3), 'filter-and-score baseline median wall time for the same output'],
    ['placement.baseline_min_seconds', Math.min(...base.seconds).toFixed(3), 'baseline fastest run'],
    ['placement.baseline_max_seconds', Math.max(...base.seconds).toFixed(3), 'baseline slowest run'],
    ['placement.speedup_vs_baseline_median', (baseMedian / engMedian).toFixed(2), 'baseline median / engine median'],
    [
      'placement.engine_output_median_seconds',
      median(engineOutput).toFixed(3),
      "of the engine's time, explaining, binding and validating every machine's plan (the output both sides write)",
    ],
    ['placement.baseline_output_median_seconds', median(baseOutput).toFixed(3), 'the same for the baseline'],
    [
      'placement.speedup_bound_same_output',
      (baseMedian / median(baseOutput)).toFixed(2),
      "baseline median / its output time alone (not a bound on the engine: the baseline's heap holds every solved problem until it writes, so the same code costs it more)",
    ],
    [
      'placement.fleet10k_median_cpu_seconds',
      median(engineCpu).toFixed(3),
      'engine median CPU time of a run (less disturbed than wall time on a shared machine)',
    ],
    ['placement.baseline_median_cpu_seconds', median(baseCpu).toFixed(3), 'baseline median CPU time of a run'],
    [
      'placement.speedup_vs_baseline_cpu_median',
      (median(baseCpu) / median(engineCpu)).toFixed(2),
      "baseline median CPU time / engine median CPU time (every thread of the process: V8's collector threads included)",
    ],
    [
      'placement.load_average',
      `${loadStart}->${os.loadavg()[0].toFixed(2)}`,
      '1-minute load average at the start and end of the run (2 cores here: above 2, other work shared the cores)',
    ],
    ['placement.runs_per_side', runs, 'timed runs per side, after the same warm-up'],
    [
      'placement.wrongly_infeasible',
      wronglyInfeasible,
      'machines the engine reports infeasible that the exhaustive solver places (goal 0)',
    ],
    ['placement.infeasible_machines', engineInfeasible, 'machines without any plan (proven by the exhaustive solver)'],
    ['placement.baseline_dead_ends', baselineDeadEnds, 'machines the baseline leaves without a plan that the engine plans'],
    [
      'placement.cost_gap_vs_highs_mean_pct',
      gapMean.toFixed(4),
      `mean cost excess of the engine's plan over the HiGHS optimum, ${gaps.length} fleet machines at real traffic`,
    ],
    ['placement.cost_gap_vs_highs_max_pct', gapMax.toFixed(4), 'largest such excess'],
    [
      'placement.heuristic_gap_generated_mean_pct',
      (heuristicGaps.reduce((s, g) => s + g, 0) / Math.max(1, heuristicGaps.length)).toFixed(4),
      `heuristic solver alone vs HiGHS, ${heuristicGaps.length} generated instances`,
    ],
  ];
  return { lines, kv, broken, failed: unexplained > 0 || wronglyInfeasible > 0 };
}

/**
 * 100,000 machines, the engine alone, the same pipeline (plan, explain, bind, validate): one
 * warm-up run, as the 10,000-machine runs have (a planning worker has planned before), timed
 * and reported apart as the cold figure, then three timed runs.
 */
function fleet100k(): { seconds: number[]; coldSeconds: number; broken: number } {
  const profiles = loadProfiles();
  const modules = benchModules(profiles, 100_000);
  const fleet = benchFleet(profiles, 100_000, 7);
  const t0 = performance.now();
  const coldBroken = engineRun(fleet, modules).rec.broken;
  const coldSeconds = (performance.now() - t0) / 1000;
  const r = timed(() => engineRun(fleet, modules).rec.broken, 0, 3);
  return { seconds: r.seconds, coldSeconds, broken: Math.max(coldBroken, r.result) };
}

/**
 * The 100,000-machine run in a process of its own (this file again, BENCH_PART=100k): the engine's
 * code is then compiled for the engine's objects alone, as in the worker that plans, not also for
 * the baseline's, the verification's and the generated instances' that ran before it.
 */
function fleet100kApart(): { seconds: number[]; coldSeconds: number; broken: number } {
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    env: { ...process.env, BENCH_PART: '100k' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`the 100,000-machine run exited with ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

async function main(): Promise<void> {
  if (process.env.BENCH_PART === '100k') {
    console.log(JSON.stringify(fleet100k()));
    return;
  }
  const short = process.env.BENCH_SHORT === '1';
  const { lines, kv, broken: broken10k, failed } = await fleetRuns(short);
  const big = short ? null : fleet100kApart();
  const broken = broken10k + (big?.broken ?? 0);
  for (const l of lines) console.log(l);
  if (big)
    console.log(
      `100,000 machines (engine): ${spread(big.seconds)} after one warm-up run (that run, cold: ${big.coldSeconds.toFixed(3)} s), ${big.broken} broken plans`,
    );
  kv.push(
    [
      'placement.fleet100k_median_seconds',
      big ? median(big.seconds).toFixed(3) : 'not run (BENCH_SHORT)',
      'engine median wall time for 100,000 machines, same pipeline, in a process of its own, after one warm-up run',
    ],
    ['placement.fleet100k_max_seconds', big ? Math.max(...big.seconds).toFixed(3) : 'not run (BENCH_SHORT)', 'slowest 100,000-machine run'],
    [
      'placement.fleet100k_cold_seconds',
      big ? big.coldSeconds.toFixed(3) : 'not run (BENCH_SHORT)',
      'the warm-up run: the first 100,000-machine plan of a fresh process',
    ],
    ['placement.broken_plans', broken, 'plans (engine, baseline, generated instances, 100,000 machines) the validator refuses'],
  );
  for (const [k, , what] of kv) console.log(`# ${k}: ${what}`);
  for (const [k, v] of kv) console.log(`${k}=${v}`);
  // A broken, unexplained or wrongly infeasible plan fails the run; slowness never does.
  if (broken > 0 || failed) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
