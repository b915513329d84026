import { join } from 'node:path';
import { ModuleCatalog } from '@ioplane/catalog';
import type { FleetMachine } from '@ioplane/domain';
import { CurrentPlacement, PlacementMachine, PlacementModule, planMachine } from '@ioplane/placement';
import { placementRequestSchema, resolveModules, toPlacementMachine } from '@ioplane/planning';
import { loadProfiles } from '@ioplane/profiles';
import { CommittedMove, countFlaps, currentCost, evaluateMachine, holdModules, MachineState, rebalanceRuleSchema, step } from '@ioplane/rebalance';
import type { ModuleRecord, ModuleRepository, ModuleVersion } from '@ioplane/state';
import { buildFleetModel, loadFleetFile, loadScenario, MaasSimStore, Scenario, simulatedDevices, trafficAt } from '../apps/fleet-sim/src';

/**
 * npm run bench:rebalance
 *
 * Runs the rebalancer's pure decision logic (libs/rebalance, the same evaluate/step the worker
 * runs each window) over a simulated telemetry stream: the demo fleet's deployed hosts, every one
 * running ddos-drop as the solver first placed it, and each scenario step turned into one
 * window of observed traffic (scenario pps with +-3% seeded noise). A committed move takes one
 * window to roll out; the window after it has no rate for the moved module, as on real agents.
 * Not the whole stack (agents, Redis, rollouts): see test/rebalance.e2e-spec.ts for that.
 */

const RULE = rebalanceRuleSchema.parse({ selector: {}, mode: 'auto', margin: 0.2, minGainHce: 0.05, windows: 3, cooldownWindows: 20 });
const REQUEST = placementRequestSchema.parse({
  selector: {},
  modules: [{ name: 'ddos-drop', prefer: 'auto', latencyBudgetUs: 20, traffic: { pps: 50_000, meanPacketBytes: 128 } }],
});

class MemoryModules implements ModuleRepository {
  private readonly reports = new Map<string, unknown>();
  async listModules(): Promise<ModuleRecord[]> { return []; }
  async getModule(): Promise<ModuleRecord | null> { return null; }
  async putModule(): Promise<void> {}
  async claimVersion(v: ModuleVersion): Promise<ModuleVersion> { return v; }
  async getVersion(): Promise<ModuleVersion | null> { return null; }
  async getReport<T>(key: string): Promise<T | null> { return (this.reports.get(key) as T) ?? null; }
  async putReport(key: string, report: unknown): Promise<void> { this.reports.set(key, report); }
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

interface Host {
  machine: PlacementMachine;
  initial: Record<string, CurrentPlacement>;
}

async function demoFleet(): Promise<{ hosts: Host[]; modules: PlacementModule[] }> {
  const profiles = loadProfiles();
  const catalog = new ModuleCatalog(new MemoryModules() as never, profiles, { cacheDir: join(process.cwd(), 'var', 'cache', 'bench-rebalance') });
  const { modules } = await resolveModules(REQUEST, catalog);
  const model = buildFleetModel(loadFleetFile('fleets/demo.yaml'));
  const store = new MaasSimStore(model, { timeScale: 0 });
  const hosts: Host[] = [];
  for (const h of model.hosts.filter((x) => x.status === 6)) {
    const fm = { systemId: h.systemId, hostname: h.hostname, zone: h.zone, pool: h.pool, tags: h.tags, cpuCount: h.cpuCount, devices: simulatedDevices(store, h.systemId, profiles) } as unknown as FleetMachine;
    const machine = toPlacementMachine(fm, profiles, REQUEST.policy.hostCoreBudget);
    const plan = planMachine(machine, modules);
    if (!plan.feasible) continue;
    const initial = Object.fromEntries(Object.values(plan.placements).map((p) => [p.module, { deviceId: p.deviceId, target: p.target }]));
    hosts.push({ machine, initial });
  }
  store.close();
  return { hosts, modules };
}

interface Replay {
  moves: CommittedMove[];
  /** Host cores XDP used per window: as rebalanced, and had the initial placement been kept. */
  cores: Array<{ rebalanced: number; kept: number }>;
}

function replay(sc: Scenario, hosts: Host[], modules: PlacementModule[], seed: number): Replay {
  const rnd = seeded(seed);
  const current = new Map(hosts.map((h) => [h.machine.systemId, { ...h.initial }]));
  const states = new Map<string, MachineState>();
  const rolling = new Map<string, { at: number; to: Record<string, CurrentPlacement> }>();
  const moves: CommittedMove[] = [];
  const cores: Replay['cores'] = [];
  for (let w = 0; w < sc.steps; w++) {
    let rebalanced = 0;
    let kept = 0;
    for (const h of hosts) {
      const id = h.machine.systemId;
      const roll = rolling.get(id);
      let fresh = false;
      if (roll && roll.at === w) {
        current.set(id, roll.to);
        rolling.delete(id);
        fresh = true;
      }
      const sceneTraffic = trafficAt(sc, h.machine, w);
      const observed = Object.fromEntries(modules.map((m) => [m.name, { pps: (sceneTraffic[m.name] ?? m.traffic.pps) * (0.97 + 0.06 * rnd()), meanPacketBytes: m.traffic.meanPacketBytes }]));
      const traffic = Object.fromEntries(Object.entries(observed).map(([k, v]) => [k, v]));
      const now = currentCost({ ...h.machine, currentPlacement: current.get(id)! }, modules, traffic);
      const before = currentCost({ ...h.machine, currentPlacement: h.initial }, modules, traffic);
      if (!('missing' in now)) rebalanced += now.hostCores;
      if (!('missing' in before)) kept += before.hostCores;
      const res = evaluateMachine({ machine: { ...h.machine, currentPlacement: current.get(id)! }, modules, observed: fresh ? {} : observed, window: w });
      const out = step({ state: states.get(id) ?? null, evaluation: res.ok ? res.evaluation : null, why: res.ok ? undefined : res.reason, rule: RULE, window: w, busy: rolling.has(id) });
      let state = out.state;
      if (out.draft) {
        state = holdModules(state, out.draft.moves.map((m) => m.module), w, RULE.cooldownWindows);
        const to = { ...current.get(id)! };
        for (const m of out.draft.moves) to[m.module] = { deviceId: m.to.deviceId, target: m.to.target };
        rolling.set(id, { at: w + 1, to });
        for (const move of out.draft.moves) moves.push({ window: w + 1, systemId: id, move });
      }
      states.set(id, state);
    }
    cores.push({ rebalanced, kept });
  }
  return { moves, cores };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const { hosts, modules } = await demoFleet();
  const surge = loadScenario('scenarios/ddos-surge.yaml');
  const s = surge.traffic[0].pattern;
  if (s.kind !== 'surge') throw new Error('scenarios/ddos-surge.yaml: expected a surge pattern first');
  const surged = new Set(hosts.filter((h) => Object.keys(trafficAt(surge, h.machine, s.from)).length).map((h) => h.machine.systemId));
  const a = replay(surge, hosts, modules, 1);
  const first = a.moves.filter((m) => surged.has(m.systemId) && m.window >= s.from).map((m) => m.window).sort((x, y) => x - y)[0];
  const reaction = first === undefined ? -1 : first - s.from;
  const during = a.cores.slice(s.from, s.from + s.steps);
  const kept = during.reduce((n, c) => n + c.kept, 0);
  const rebalanced = during.reduce((n, c) => n + c.rebalanced, 0);
  const savedPct = kept > 0 ? (100 * (kept - rebalanced)) / kept : 0;

  // Oscillation: the same surge level flipping every 4 windows on every host of the fleet.
  const osc: Scenario = { ...surge, name: 'oscillate-4', steps: 120, events: [], traffic: [{ selector: {}, module: 'ddos-drop', pattern: { kind: 'oscillate', low: 50_000, high: 20_000_000, period: 4, from: 0 } }] };
  const b = replay(osc, hosts, modules, 2);
  const fast: Scenario = { ...osc, name: 'oscillate-1', traffic: [{ ...osc.traffic[0], pattern: { kind: 'oscillate', low: 50_000, high: 20_000_000, period: 1, from: 0 } }] };
  const c = replay(fast, hosts, modules, 3);
  const flaps = countFlaps(b.moves, RULE.cooldownWindows) + countFlaps(c.moves, RULE.cooldownWindows);

  console.log('rebalance bench: pure decision logic (libs/rebalance evaluate + step) over a simulated telemetry stream, not the running stack');
  console.log(`fleet: ${hosts.length} deployed demo hosts running ddos-drop; policy: auto, margin ${RULE.margin * 100}% and ${RULE.minGainHce} hce, ${RULE.windows} windows, cool-down ${RULE.cooldownWindows}`);
  console.log(`surge (${surge.name}): ${surged.size} hosts surged at window ${s.from} for ${s.steps} windows; ${a.moves.length} moves, first committed at window ${first ?? '-'}`);
  console.log(`  host cores during the surge: ${rebalanced.toFixed(2)} rebalanced vs ${kept.toFixed(2)} with the initial placement kept (core-windows)`);
  console.log(`oscillation every 4 windows: ${b.moves.length} moves; every window: ${c.moves.length} moves; reversed within the cool-down: ${flaps}`);
  console.log(`elapsed ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(`rebalance.mode=pure-decision-over-simulated-telemetry`);
  console.log(`rebalance.hysteresis_windows=${RULE.windows}`);
  console.log(`rebalance.reaction_windows=${reaction}`);
  console.log(`rebalance.flaps=${flaps}`);
  console.log(`rebalance.host_cores_saved_pct=${savedPct.toFixed(1)}`);
  if (reaction < 0 || reaction > RULE.windows + 1 || flaps > 0) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
