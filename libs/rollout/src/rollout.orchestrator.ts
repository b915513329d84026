import { DesiredMachine } from './machine.desired';
import { AgentPort, commitMachine, Control, FirmwareImage, rollBackMachine, runMachine } from './machine.runbook';
import { MachineRecord, newMachineRecord, TERMINAL } from './machine.state';
import { MachineOutcome, planWaves, RolloutPlan, RolloutPolicy, waveVerdict } from './rollout.plan';

/** The durable state a rollout reads and writes; Redis in production (`RolloutRepository`). */
export interface RolloutStore {
  initMachines(placementId: string, records: MachineRecord[]): Promise<void>;
  machines<T>(placementId: string): Promise<T[]>;
  machine<T>(placementId: string, systemId: string): Promise<T | null>;
  /** With a fence, refused (null) unless the writer still holds the machine's lease under it. */
  saveMachine<T extends { systemId: string; generation: number }>(placementId: string, rec: T, fence?: MachineFence): Promise<T | null>;
  putRolloutPlan(placementId: string, plan: unknown): Promise<void>;
  getRolloutPlan<T>(placementId: string): Promise<T | null>;
  control(placementId: string): Promise<Control>;
}

/** A machine's lease as its holder shows it: the owning placement and the generation it acquired. */
export interface MachineFence {
  systemId: string;
  owner: string;
  gen: number;
}

/** Everything the orchestrator needs from outside: agents, signatures, artifacts, status, commit hooks. */
export interface RolloutEnv {
  store: RolloutStore;
  agentFor(systemId: string): Promise<AgentPort>;
  sign(digest: string): string;
  firmwareImage(profileId: string): FirmwareImage;
  /** The machine's desired state under this placement. */
  desired(placementId: string, systemId: string): Promise<DesiredMachine>;
  /** Called once per machine when its wave commits: record observed state, annotate MAAS. */
  onCommitted(placementId: string, rec: MachineRecord, want: DesiredMachine): Promise<void>;
  /**
   * Machine leases (Redis in production): a wave's commit, rollback and cancel of a machine hold
   * its lease and write under its fence, as its machine job did. Without them writes are unfenced.
   */
  leases?: {
    acquire(placementId: string, systemId: string, holder: string): Promise<MachineFence>;
    letGo(fence: MachineFence): Promise<void>;
  };
  probeMs?: number;
  log?(msg: string, fields: Record<string, unknown>): void;
}

const COMMIT_CONCURRENCY = 32;

/** Runs `fn` over `items`, at most `limit` at once; the first error is thrown after all settle. */
async function eachBounded<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++];
        await fn(item).catch((e: unknown) => errors.push(e));
      }
    }),
  );
  if (errors.length) throw errors[0];
}

export class LostMachine extends Error {
  constructor(systemId: string) {
    super(`machine ${systemId} was advanced by another worker`);
  }
}

export type WaveOutcome = { wave: number; failed: number; total: number; result: 'next' | 'completed' | 'halted' | 'cancelled' | 'rolled-back' };

export class RolloutOrchestrator {
  /** ed25519 signatures are deterministic: one per artifact digest, not one per machine. */
  private readonly signatures = new Map<string, string>();

  constructor(private readonly env: RolloutEnv) {}

  private sign(digest: string): string {
    let sig = this.signatures.get(digest);
    if (sig === undefined) {
      sig = this.env.sign(digest);
      if (this.signatures.size >= 1024) this.signatures.clear();
      this.signatures.set(digest, sig);
    }
    return sig;
  }

  /** Splits the plan's feasible machines into waves and records every machine as pending. */
  async start(placementId: string, machines: Array<{ systemId: string; hostname: string }>, policy: RolloutPolicy): Promise<RolloutPlan> {
    const existing = await this.env.store.getRolloutPlan<RolloutPlan>(placementId);
    if (existing) return existing;
    const ordered = [...machines].sort((a, b) => a.hostname.localeCompare(b.hostname));
    const plan = planWaves(placementId, ordered.map((m) => m.systemId), policy);
    const host = new Map(ordered.map((m) => [m.systemId, m.hostname]));
    await this.env.store.initMachines(placementId, plan.waves.flatMap((w) => w.machines.map((id) => newMachineRecord(id, host.get(id)!, w.index))));
    await this.env.store.putRolloutPlan(placementId, plan);
    return plan;
  }

  private saver(placementId: string, fence?: MachineFence) {
    return async (rec: MachineRecord) => {
      const saved = await this.env.store.saveMachine(placementId, rec, fence);
      if (!saved) throw new LostMachine(rec.systemId);
      return saved;
    };
  }

  /** One machine's flash -> load -> verify; resumes from its durable record. Throws RolloutStop on pause. */
  async runMachine(placementId: string, systemId: string, signal?: AbortSignal, fence?: MachineFence): Promise<MachineRecord> {
    // The record and what the first step reads (desired state, the operator's word, the agent's
    // inventory) are independent: read at once, not one after the other. What a finished machine
    // does not need is dropped, its errors with it.
    const wantP = this.env.desired(placementId, systemId);
    const agentP = this.env.agentFor(systemId);
    const started = { control: this.env.store.control(placementId), inventory: agentP.then((a) => a.inventory()) };
    for (const p of [wantP, agentP, started.control, started.inventory]) p.catch(() => undefined);
    const rec = await this.env.store.machine<MachineRecord>(placementId, systemId);
    if (!rec) throw new Error(`machine ${systemId} is not part of ${placementId}`);
    if (TERMINAL.has(rec.state) || rec.verifiedAt) return rec;
    const [want, agent] = await Promise.all([wantP, agentP]);
    // The attempt is counted by the first state write of the runbook (a compare-and-swap like any other).
    const counted = { ...rec, attempts: rec.attempts + 1 };
    return runMachine(counted, want, {
      agent,
      sign: (d) => this.sign(d),
      save: this.saver(placementId, fence),
      control: () => this.env.store.control(placementId),
      firmwareImage: (p) => this.env.firmwareImage(p),
      probeMs: this.env.probeMs,
      signal,
      started,
      onStep: (state, detail) => this.env.log?.('machine step', { placementId, systemId, state, detail }),
    });
  }

  /**
   * Runs when every machine job of a wave has ended: commits the wave, or rolls the whole wave
   * back when its failures pass the threshold or the operator cancelled.
   */
  async finishWave(placementId: string, wave: number): Promise<WaveOutcome> {
    const plan = await this.env.store.getRolloutPlan<RolloutPlan>(placementId);
    if (!plan) throw new Error(`no rollout plan for ${placementId}`);
    const ids = new Set(plan.waves[wave].machines);
    const recs = (await this.env.store.machines<MachineRecord>(placementId)).filter((r) => ids.has(r.systemId));
    const control = await this.env.store.control(placementId);
    const outcomes: MachineOutcome[] = recs.map((r) => (r.state === 'committed' || r.verifiedAt ? 'committed' : r.state === 'cancelled' ? 'cancelled' : r.state === 'rolled-back' ? 'rolled-back' : 'failed'));
    const verdict = waveVerdict(outcomes.filter((o) => o !== 'cancelled'), plan.policy.failureThreshold);

    // The operator's word comes first: machines a cancel rolled back are not failures of the wave.
    const stopped = control === 'cancel' || control === 'rollback';
    if (verdict.halt || stopped) {
      const why = stopped
        ? `rollout ${control === 'cancel' ? 'cancelled' : 'rolled back'} by the operator`
        : `wave ${wave} halted: ${verdict.failed} of ${verdict.total} machines failed (threshold ${Math.round(plan.policy.failureThreshold * 100)} %)`;
      await eachBounded(recs.filter((x) => x.verifiedAt && x.state === 'verifying'), COMMIT_CONCURRENCY, (r) => this.rollBack(placementId, r, why, `${placementId}.w${wave}`));
      const result = stopped ? (control === 'cancel' ? 'cancelled' : 'rolled-back') : 'halted';
      return { wave, failed: verdict.failed, total: verdict.total, result };
    }
    // The next wave waits on these commits, so they go out in parallel (machines are independent).
    await eachBounded(recs.filter((x) => x.verifiedAt && x.state === 'verifying'), COMMIT_CONCURRENCY, (seen) =>
      this.underLease(placementId, seen.systemId, `${placementId}.w${wave}`, async (fence) => {
        // Read again under the lease: what was read before it may have moved on.
        const r = await this.env.store.machine<MachineRecord>(placementId, seen.systemId);
        if (!r || !r.verifiedAt || r.state !== 'verifying') return;
        const [want, agent] = await Promise.all([this.env.desired(placementId, r.systemId), this.env.agentFor(r.systemId)]);
        // commitMachine checks that the agent runs exactly this placement's chain before committing.
        const done = await commitMachine(r, want, { agent, save: this.saver(placementId, fence) });
        if (done.state === 'committed') await this.env.onCommitted(placementId, done, want);
      }),
    );
    return { wave, failed: verdict.failed, total: verdict.total, result: wave + 1 < plan.waves.length ? 'next' : 'completed' };
  }

  /** Pending machines of later waves when a rollout stops: marked cancelled, nothing touched. */
  async cancelPending(placementId: string, reason: string): Promise<number> {
    const recs = await this.env.store.machines<MachineRecord>(placementId);
    let n = 0;
    for (const r of recs.filter((x) => x.state === 'pending')) {
      await this.underLease(placementId, r.systemId, `${placementId}.cancel`, (fence) => this.saver(placementId, fence)({ ...r, state: 'cancelled', reason }));
      n++;
    }
    return n;
  }

  /**
   * Whole-job rollback after waves committed: machines that ran nothing of ioplane's before this
   * placement get their chains removed and firmware restored; a machine that ran an earlier
   * placement keeps this one (its old programs are gone from the agent) and says so.
   */
  async revertCommitted(placementId: string, hadPrevious: (systemId: string) => Promise<boolean>): Promise<{ reverted: string[]; kept: string[] }> {
    const out = { reverted: [] as string[], kept: [] as string[] };
    for (const r of (await this.env.store.machines<MachineRecord>(placementId)).filter((x) => x.state === 'committed')) {
      if (await hadPrevious(r.systemId)) {
        out.kept.push(r.systemId);
        continue;
      }
      const done = await this.rollBack(placementId, { ...r, loaded: r.loaded }, 'rolled back by the operator');
      if (done.state === 'rolled-back') out.reverted.push(r.systemId);
      else out.kept.push(r.systemId);
    }
    return out;
  }

  private async rollBack(placementId: string, r: MachineRecord, reason: string, holder = `${placementId}.rollback`): Promise<MachineRecord> {
    return this.underLease(placementId, r.systemId, holder, async (fence) => {
      const [want, agent] = await Promise.all([this.env.desired(placementId, r.systemId), this.env.agentFor(r.systemId)]);
      return rollBackMachine(r, want, { agent, save: this.saver(placementId, fence) }, reason);
    });
  }

  /** Runs `fn` holding the machine's lease, its writes fenced; the hold is given back after. */
  private async underLease<T>(placementId: string, systemId: string, holder: string, fn: (fence?: MachineFence) => Promise<T>): Promise<T> {
    const leases = this.env.leases;
    if (!leases) return fn(undefined);
    const fence = await leases.acquire(placementId, systemId, holder);
    try {
      return await fn(fence);
    } finally {
      // A hold not given back runs out by itself; the step's own outcome is what counts here.
      await leases.letGo(fence).catch((e: unknown) => this.env.log?.('machine lease not given back', { placementId, systemId, err: (e as Error).message }));
    }
  }
}

