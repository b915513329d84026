import type { Evaluation, Move } from './rebalance.evaluate';
import type { RebalanceRule } from './rebalance.policy';

/** What the rebalancer remembers of a machine between windows. */
export interface MachineState {
  systemId: string;
  hostname: string;
  /** Consecutive windows, ending at lastWindow, in which a move passed the margin. */
  streak: number;
  streakSince: number | null;
  lastWindow: number | null;
  /** Module -> first window in which it may move again. */
  cooldownUntil: Record<string, number>;
  /** The proposal waiting for approval or rolling out; nothing else is proposed meanwhile. */
  pending: string | null;
  lastVerdict: Verdict;
  lastNote: string;
}

export type Verdict = 'off' | 'no-data' | 'busy' | 'infeasible' | 'no-move' | 'below-margin' | 'building' | 'cooldown' | 'propose';

export interface ProposalReasons {
  /** Observed pps per module against what the placement declared. */
  observed: Evaluation['observed'];
  armLoad: Record<string, number>;
  hostCores: { current: number; proposed: number };
  currentCost: number;
  proposedCost: number;
  gain: number;
  relativeGain: number;
  overload: string | null;
  margin: number;
  minGainHce: number;
  windows: { required: number; held: number; since: number };
  whyNow: string;
  summary: string[];
}

export interface ProposalDraft {
  systemId: string;
  hostname: string;
  window: number;
  mode: 'propose' | 'auto';
  moves: Move[];
  flavourSwitches: Record<string, string>;
  reasons: ProposalReasons;
}

export interface StepInput {
  state: MachineState | null;
  /** null: no complete telemetry this window (`why` says what was missing). */
  evaluation: Evaluation | null;
  why?: string;
  rule: RebalanceRule | null;
  window: number;
  /** A proposal of this machine is pending or rolling out. */
  busy: boolean;
}

export interface StepResult {
  state: MachineState;
  draft: ProposalDraft | null;
  verdict: Verdict;
  note: string;
}

export function initialState(systemId: string, hostname: string): MachineState {
  return {
    systemId,
    hostname,
    streak: 0,
    streakSince: null,
    lastWindow: null,
    cooldownUntil: {},
    pending: null,
    lastVerdict: 'no-data',
    lastNote: '',
  };
}

const mpps = (pps: number) => `${(pps / 1e6).toFixed(pps >= 1e7 ? 1 : 2)} Mpps`;
const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

export function describeMove(m: Move): string {
  return `${m.module}: ${m.from.target} on ${m.from.deviceId} -> ${m.to.target} on ${m.to.deviceId}`;
}

/** Does the best plan beat the current one by enough, this window? */
export function passes(e: Evaluation, rule: Pick<RebalanceRule, 'margin' | 'minGainHce'>): boolean {
  if (!e.best.feasible || e.moves.length === 0) return false;
  // A placement that cannot carry the traffic must go whatever the margin says.
  if (e.current.overload) return true;
  return e.gain >= rule.minGainHce && e.relativeGain >= rule.margin;
}

/**
 * One window of one machine: hysteresis (the gain must hold `windows` consecutive windows),
 * cool-down (a module that moved, or whose move was rejected, stays put for `cooldownWindows`),
 * and one proposal at a time per machine.
 */
export function step(input: StepInput): StepResult {
  const { evaluation: e, rule, window } = input;
  const prev = input.state ?? initialState(e?.systemId ?? '', e?.hostname ?? '');
  const base = { ...prev, lastWindow: window, cooldownUntil: { ...prev.cooldownUntil } };
  const reset = (verdict: Verdict, note: string): StepResult => ({
    state: { ...base, streak: 0, streakSince: null, lastVerdict: verdict, lastNote: note },
    draft: null,
    verdict,
    note,
  });

  if (!rule || rule.mode === 'off') return reset('off', 'rebalancing is off for this machine');
  if (input.busy) return reset('busy', `proposal ${prev.pending} is still open`);
  if (!e) return reset('no-data', input.why ?? 'no telemetry this window');
  if (!e.best.feasible) return reset('infeasible', `no placement carries the observed traffic: ${e.best.infeasible.join('; ')}`);
  if (e.moves.length === 0) return reset('no-move', `the current placement is the best one (cost ${e.current.cost.toFixed(3)} hce)`);
  if (!passes(e, rule)) {
    return reset(
      'below-margin',
      `gain ${e.gain.toFixed(3)} hce (${pct(e.relativeGain)}) is below the margin (${pct(rule.margin)} and ${rule.minGainHce} hce)`,
    );
  }
  const consecutive = prev.streak > 0 && prev.lastWindow === window - 1;
  const streak = consecutive ? prev.streak + 1 : 1;
  const since = consecutive && prev.streakSince !== null ? prev.streakSince : window;
  const held = { ...base, streak, streakSince: since };
  if (streak < rule.windows) {
    const note = `gain ${e.gain.toFixed(3)} hce has held ${streak} of ${rule.windows} windows`;
    return { state: { ...held, lastVerdict: 'building', lastNote: note }, draft: null, verdict: 'building', note };
  }
  const cooling = e.moves.filter((m) => (prev.cooldownUntil[m.module] ?? -Infinity) > window);
  if (cooling.length) {
    const note = `${cooling.map((m) => `${m.module} may move again from window ${prev.cooldownUntil[m.module]}`).join('; ')} (cool-down)`;
    return { state: { ...held, lastVerdict: 'cooldown', lastNote: note }, draft: null, verdict: 'cooldown', note };
  }
  const draft: ProposalDraft = {
    systemId: e.systemId,
    hostname: e.hostname,
    window,
    mode: rule.mode === 'auto' ? 'auto' : 'propose',
    moves: e.moves,
    flavourSwitches: e.best.flavourSwitches,
    reasons: reasonsOf(e, rule, streak, since),
  };
  const note = `proposing ${e.moves.map(describeMove).join('; ')}`;
  return { state: { ...base, streak: 0, streakSince: null, lastVerdict: 'propose', lastNote: note }, draft, verdict: 'propose', note };
}

function reasonsOf(e: Evaluation, rule: RebalanceRule, held: number, since: number): ProposalReasons {
  const surges = Object.entries(e.observed)
    .filter(([, o]) => o.declaredPps > 0 && Math.abs(o.pps / o.declaredPps - 1) >= 0.25)
    .map(
      ([name, o]) =>
        `${name} now sees ${mpps(o.pps)} (${(o.pps / o.declaredPps).toFixed(o.pps >= o.declaredPps ? 0 : 2)}x the ${mpps(o.declaredPps)} it was placed for)`,
    );
  const gainText = `gain ${e.gain.toFixed(3)} hce (${pct(e.relativeGain)} of ${e.current.cost.toFixed(3)})`;
  const whyNow = e.current.overload
    ? `the current placement cannot carry the traffic (${e.current.overload}) and has not for ${held} consecutive windows (since window ${since})`
    : `${gainText} has stayed above the margin (${pct(rule.margin)}, ${rule.minGainHce} hce) for ${held} consecutive windows (since window ${since}); none of the moved modules is cooling down`;
  const summary = [
    ...surges,
    `current placement costs ${e.current.cost.toFixed(3)} hce (${e.current.hostCores.toFixed(3)} host cores) under the observed traffic`,
    `proposed placement costs ${e.best.cost.toFixed(3)} hce (${e.best.hostCores.toFixed(3)} host cores) including migration; reload risk ${e.riskHce.toFixed(3)} hce`,
    ...Object.entries(e.current.armLoad).map(([d, l]) => `${d}: Arm cores ${pct(l)} busy now`),
    ...e.moves.map(describeMove),
  ];
  return {
    observed: e.observed,
    armLoad: e.current.armLoad,
    hostCores: { current: e.current.hostCores, proposed: e.best.hostCores },
    currentCost: e.current.cost,
    proposedCost: e.best.cost,
    gain: e.gain,
    relativeGain: e.relativeGain,
    overload: e.current.overload,
    margin: rule.margin,
    minGainHce: rule.minGainHce,
    windows: { required: rule.windows, held, since },
    whyNow,
    summary,
  };
}

/** A proposal was submitted (auto or approved) or rejected: its modules stay put for the cool-down. */
export function holdModules(state: MachineState, modules: string[], window: number, cooldownWindows: number): MachineState {
  const cooldownUntil = { ...state.cooldownUntil };
  for (const m of modules) cooldownUntil[m] = Math.max(cooldownUntil[m] ?? -Infinity, window + cooldownWindows);
  return { ...state, cooldownUntil };
}

export interface CommittedMove {
  window: number;
  systemId: string;
  move: Move;
}

/** Moves that undo an earlier move of the same module on the same machine within `cooldownWindows`. */
export function countFlaps(moves: readonly CommittedMove[], cooldownWindows: number): number {
  let flaps = 0;
  const last = new Map<string, CommittedMove>();
  for (const m of [...moves].sort((a, b) => a.window - b.window)) {
    const key = `${m.systemId}/${m.move.module}`;
    const p = last.get(key);
    if (
      p &&
      m.window - p.window < cooldownWindows &&
      p.move.from.deviceId === m.move.to.deviceId &&
      p.move.from.target === m.move.to.target
    )
      flaps++;
    last.set(key, m);
  }
  return flaps;
}
