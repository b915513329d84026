import { createHash } from 'node:crypto';
import type { ModuleCatalog } from '@ioplane/catalog';
import { cardOfHostXdpDevice, type FirmwareProfile, type FleetMachine } from '@ioplane/domain';
import type { CurrentPlacement, PlacementModule } from '@ioplane/placement';
import { AgentFactsResult, placementRequestSchema, PlacementRequest, resolveModules, toPlacementMachine } from '@ioplane/planning';
import {
  EMPTY_POLICY,
  evaluateMachine,
  Evaluation,
  holdModules,
  initialState,
  MachineState,
  ObservedTraffic,
  Proposal,
  proposalId,
  rebalancePolicySchema,
  RebalancePolicy,
  ruleFor,
  step,
  TelemetryWindow,
  Verdict,
} from '@ioplane/rebalance';
import type { FleetRepository, PlacementRepository, RebalanceRepository, RolloutRepository, TelemetryRepository } from '@ioplane/state';
import { rebalanceRequest } from './rebalance.request';
import { sampledHosts } from './telemetry.sampler';

const TERMINAL = new Set(['completed', 'failed', 'infeasible', 'cancelled', 'rolled-back']);

export interface DeciderDeps {
  fleet: FleetRepository;
  rollouts: RolloutRepository;
  placements: PlacementRepository;
  catalog: ModuleCatalog;
  profiles: FirmwareProfile[];
  telemetry: TelemetryRepository;
  rebalance: RebalanceRepository;
  agentFacts?: (m: FleetMachine) => Promise<AgentFactsResult | null>;
  /** Submits a placement request (through submitPlacement); returns its id. */
  submit(req: PlacementRequest, idempotencyKey: string): Promise<string>;
  log(msg: string, fields: Record<string, unknown>): void;
}

export interface DecideResult {
  window: number;
  machines: number;
  verdicts: Partial<Record<Verdict, string[]>>;
  proposals: string[];
  submitted: string[];
  dropped: string[];
}

interface Source {
  request: PlacementRequest;
  modules: PlacementModule[];
}

export async function readPolicy(repo: RebalanceRepository): Promise<RebalancePolicy> {
  const raw = await repo.policy<unknown>();
  const p = raw ? rebalancePolicySchema.safeParse(raw) : null;
  return p?.success ? p.data : EMPTY_POLICY;
}

/**
 * One decision round over the fleet for `window`: drops machines that left, settles open
 * proposals, evaluates every machine a rule takes, stores proposals and, in `auto` mode, submits
 * one rebalance placement per group of machines with the same move.
 */
export async function decideRound(deps: DeciderDeps, windowArg?: number): Promise<DecideResult> {
  const window = windowArg ?? (await deps.telemetry.currentWindow());
  const policy = await readPolicy(deps.rebalance);
  const hosts = sampledHosts(await deps.fleet.listMachines());
  const hostIds = new Set(hosts.map((h) => h.systemId));
  const states = await deps.rebalance.states<MachineState>();
  const result: DecideResult = { window, machines: hosts.length, verdicts: {}, proposals: [], submitted: [], dropped: [] };

  const departed = new Set([...states.keys(), ...(await deps.telemetry.machines())].filter((id) => !hostIds.has(id)));
  if (departed.size) {
    for (const p of await deps.rebalance.proposals<Proposal>(1000)) {
      if (departed.has(p.systemId) && p.status === 'pending') {
        await deps.rebalance.transition<Proposal>(p.id, ['pending'], (x) => ({
          ...x,
          status: 'dropped',
          decidedAt: new Date().toISOString(),
          decidedBy: 'rebalancer',
          note: 'the machine is no longer Deployed in MAAS',
        }));
      }
    }
    for (const id of departed) {
      await deps.telemetry.forget(id);
      await deps.rebalance.dropState(id);
      result.dropped.push(id);
    }
    deps.log('rebalance: machines left the fleet, their telemetry and state are dropped', { window, systemIds: [...departed] });
  }

  const sources = new Map<string, Promise<Source | string>>();
  const sourceOf = (placementId: string) => {
    let s = sources.get(placementId);
    if (!s) {
      s = (async () => {
        const rec = await deps.placements.get(placementId);
        const req = rec && placementRequestSchema.safeParse(rec.request);
        if (!req?.success) return `placement ${placementId} it follows is gone or unreadable`;
        if (req.data.modules.some((m) => m.scope))
          return `placement ${placementId} has fleet-scoped modules, which are rebalanced fleet-wide only`;
        const { modules } = await resolveModules(req.data, deps.catalog);
        return { request: req.data, modules };
      })().catch((e: Error) => `placement ${placementId}: ${e.message}`);
      sources.set(placementId, s);
    }
    return s;
  };

  const next: MachineState[] = [];
  const autos = new Map<
    string,
    { source: Source; sourceId: string; proposals: Proposal[]; observed: Array<Record<string, ObservedTraffic>> }
  >();
  for (const m of hosts) {
    const rule = ruleFor(policy, m);
    let state = states.get(m.systemId) ?? initialState(m.systemId, m.hostname);
    const settled = await settle(deps, state, window, rule?.cooldownWindows ?? 0);
    state = settled.state;
    let evaluation: Evaluation | null = null;
    let why: string | undefined;
    let sourceId = '';
    let source: Source | null = null;
    if (rule && rule.mode !== 'off' && !settled.busy) {
      const r = await evaluate(deps, m, window, sourceOf);
      if ('evaluation' in r) {
        evaluation = r.evaluation;
        sourceId = r.sourceId;
        source = r.source;
      } else why = r.why;
    }
    const out = step({ state, evaluation, why, rule, window, busy: settled.busy });
    state = out.state;
    (result.verdicts[out.verdict] ??= []).push(m.hostname);
    if (out.draft && source && evaluation) {
      const observed = Object.fromEntries(
        Object.entries(evaluation.observed).map(([k, v]) => [k, { pps: v.pps, meanPacketBytes: v.meanPacketBytes }]),
      );
      const p: Proposal = {
        ...out.draft,
        id: proposalId(window, m.systemId),
        createdAt: new Date().toISOString(),
        status: 'pending',
        sourcePlacementId: sourceId,
        request: rebalanceRequest(source.request, [m.hostname], [observed]),
        placementId: null,
        decidedAt: null,
        decidedBy: null,
        note: null,
        held: false,
      };
      if (await deps.rebalance.createProposal(p)) {
        result.proposals.push(p.id);
        state = { ...state, pending: p.id };
        deps.log('rebalance: move proposed', {
          window,
          proposal: p.id,
          hostname: m.hostname,
          mode: p.mode,
          moves: p.reasons.summary,
          gain: p.reasons.gain,
        });
        if (p.mode === 'auto') {
          const key = `${sourceId}|${p.moves.map((x) => `${x.module}:${x.from.target}>${x.to.target}`).join(',')}`;
          const g = autos.get(key) ?? { source, sourceId, proposals: [], observed: [] };
          g.proposals.push(p);
          g.observed.push(observed);
          autos.set(key, g);
        }
      }
    }
    next.push(state);
  }

  const byId = new Map(next.map((s) => [s.systemId, s]));
  for (const [key, g] of autos) {
    const hostnames = g.proposals.map((p) => p.hostname);
    const req = rebalanceRequest(g.source.request, hostnames, g.observed);
    const idem = `rebalance.w${window}.${createHash('sha256')
      .update(key + hostnames.join(','))
      .digest('hex')
      .slice(0, 16)}`;
    let placementId: string | null = null;
    let failure: string | null = null;
    try {
      placementId = await deps.submit(req, idem);
      result.submitted.push(placementId);
    } catch (e) {
      failure = (e as Error).message;
    }
    for (const p of g.proposals) {
      await deps.rebalance.transition<Proposal>(p.id, ['pending'], (x) => ({
        ...x,
        status: placementId ? 'submitted' : 'failed',
        placementId,
        request: req,
        decidedAt: new Date().toISOString(),
        decidedBy: 'auto',
        held: !!placementId,
        note: failure,
      }));
      const s = byId.get(p.systemId)!;
      const rule = ruleFor(
        policy,
        hosts.find((h) => h.systemId === p.systemId)!,
      );
      byId.set(
        p.systemId,
        placementId
          ? holdModules(
              s,
              p.moves.map((x) => x.module),
              window,
              rule?.cooldownWindows ?? 0,
            )
          : { ...s, pending: null },
      );
    }
    deps.log(placementId ? 'rebalance: placement submitted' : 'rebalance: placement refused', {
      window,
      placementId,
      hostnames,
      err: failure,
    });
  }
  await deps.rebalance.putStates([...byId.values()]);
  return result;
}

/** Whether the machine's open proposal still blocks new ones; applies the cool-down once a decision was taken. */
async function settle(
  deps: DeciderDeps,
  state: MachineState,
  window: number,
  cooldownWindows: number,
): Promise<{ state: MachineState; busy: boolean }> {
  if (!state.pending) return { state, busy: false };
  const p = await deps.rebalance.proposal<Proposal>(state.pending);
  if (!p) return { state: { ...state, pending: null }, busy: false };
  let s = state;
  if ((p.status === 'submitted' || p.status === 'rejected') && !p.held) {
    s = holdModules(
      s,
      p.moves.map((x) => x.module),
      window,
      cooldownWindows,
    );
    await deps.rebalance.transition<Proposal>(p.id, [p.status], (x) => ({ ...x, held: true }));
  }
  if (p.status === 'pending') return { state: s, busy: true };
  if (p.status === 'submitted' && p.placementId) {
    const rec = await deps.placements.get(p.placementId);
    if (rec && !TERMINAL.has(rec.status)) return { state: s, busy: true };
  }
  return { state: { ...s, pending: null }, busy: false };
}

async function evaluate(
  deps: DeciderDeps,
  m: FleetMachine,
  window: number,
  sourceOf: (placementId: string) => Promise<Source | string>,
): Promise<{ evaluation: Evaluation; source: Source; sourceId: string } | { why: string }> {
  const observed = await deps.rollouts.observed(m.systemId);
  if (!observed) return { why: 'the machine runs no placement' };
  const [latest] = await deps.telemetry.windows<TelemetryWindow>(m.systemId, 1);
  if (!latest || latest.window !== window) return { why: `no telemetry for window ${window}` };
  const source = await sourceOf(observed.placementId);
  if (typeof source === 'string') return { why: source };
  const facts = await deps.agentFacts?.(m);
  if (facts && !facts.ok) return { why: facts.reason };
  const current: Record<string, CurrentPlacement> = {};
  // Host XDP on a card with hardware hooks runs in the agent's host-XDP device for its netdevs; the plan names the card.
  for (const x of observed.modules)
    current[x.name] = { deviceId: cardOfHostXdpDevice(x.deviceId), target: x.target as CurrentPlacement['target'] };
  // The alternatives are the ones the placement itself could choose: on the ports it named.
  const machine = toPlacementMachine(
    m,
    deps.profiles,
    source.request.policy.hostCoreBudget,
    current,
    facts?.ok ? facts.facts : null,
    source.request.ingress,
  );
  const traffic = Object.fromEntries(
    Object.entries(latest.modules).map(([k, v]) => [k, { pps: v.pps, meanPacketBytes: v.meanPacketBytes }]),
  );
  const r = evaluateMachine({ machine, modules: source.modules, firmware: observed.firmware, observed: traffic, window });
  if (!r.ok) return { why: r.reason };
  return { evaluation: r.evaluation, source, sourceId: observed.placementId };
}
