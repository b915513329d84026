import { randomUUID } from 'node:crypto';
import { agentFacts, commitMachine, Control, Failure, rollBackMachine, runMachine } from './machine.runbook';
import { failureCode, type RolloutFailureCode } from './rollout.failure';
import { MachineRecord, newMachineRecord, TERMINAL } from './machine.state';
import { resolveMachine } from './reconcile';
import { withStoreRetry } from './store.retry';
import type { MachineFence, RolloutEnv } from './rollout.env';
import { MachineOutcome, planWaves, RolloutPlan, RolloutPolicy, waveVerdict } from './rollout.plan';

// The environment's types live beside it; they stay part of this face.
export type { MachineFence, RolloutEnv, RolloutStore } from './rollout.env';

const COMMIT_CONCURRENCY = 32;
const RESOLVED = 'resolved from the agent: ';

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

/** A wave cannot be decided yet: some of its machines' agents could not be asked; its job runs again. */
export class UnresolvedMachines extends Error {
  readonly code = 'machines_unresolved';
  constructor(
    wave: number,
    readonly machines: Array<{ systemId: string; reason: string }>,
  ) {
    super(`wave ${wave}: ${machines.length} machine(s) not resolved yet: ${machines.map((m) => `${m.systemId} (${m.reason})`).join('; ')}`);
  }
}

/** Same record apart from what every write sets (generation, updatedAt). */
function sameRecord(a: MachineRecord, b: MachineRecord): boolean {
  return JSON.stringify({ ...a, generation: 0, updatedAt: '' }) === JSON.stringify({ ...b, generation: 0, updatedAt: '' });
}

export type WaveOutcome = {
  wave: number;
  failed: number;
  total: number;
  result: 'next' | 'completed' | 'halted' | 'cancelled' | 'rolled-back';
};

export class RolloutOrchestrator {
  /** ed25519 signatures are deterministic: one per artifact digest, not one per machine. */
  private readonly signatures = new Map<string, string>();
  /** Names this orchestrator's reconcile passes apart from every other worker's. */
  private readonly instance = randomUUID().slice(0, 8);
  private passes = 0;

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
    const plan = planWaves(
      placementId,
      ordered.map((m) => m.systemId),
      policy,
    );
    const host = new Map(ordered.map((m) => [m.systemId, m.hostname]));
    await this.env.store.initMachines(
      placementId,
      plan.waves.flatMap((w) => w.machines.map((id) => newMachineRecord(id, host.get(id)!, w.index))),
    );
    await this.env.store.putRolloutPlan(placementId, plan);
    return plan;
  }

  private saver(placementId: string, fence?: MachineFence) {
    return async (rec: MachineRecord) => {
      const saved = await withStoreRetry(
        `machine ${rec.systemId}`,
        async (attempt) => {
          const s = await this.env.store.saveMachine(placementId, rec, fence);
          if (s || attempt === 0) return s;
          // An earlier attempt may have been applied before its reply was lost: the record is then
          // exactly ours, one generation on.
          const now = await this.env.store.machine<MachineRecord>(placementId, rec.systemId);
          return now && now.generation === rec.generation + 1 && sameRecord(now, rec) ? now : null;
        },
        this.env.storeRetry,
      );
      if (!saved) throw new LostMachine(rec.systemId);
      return saved;
    };
  }

  private control(placementId: string): Promise<Control> {
    return withStoreRetry(`control of ${placementId}`, () => this.env.store.control(placementId), this.env.storeRetry);
  }

  /** One machine's flash -> load -> verify; resumes from its durable record. Throws RolloutStop on pause. */
  async runMachine(placementId: string, systemId: string, signal?: AbortSignal, fence?: MachineFence): Promise<MachineRecord> {
    // The record and what the first step reads (desired state, the operator's word, the agent's
    // inventory) are independent: read at once, not one after the other. What a finished machine
    // does not need is dropped, its errors with it.
    const wantP = this.env.desired(placementId, systemId);
    const agentP = this.env.agentFor(systemId);
    const started = { control: this.control(placementId), inventory: agentP.then((a) => a.inventory()) };
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
      control: () => this.control(placementId),
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
  async finishWave(placementId: string, wave: number, inHand?: RolloutPlan): Promise<WaveOutcome> {
    // The wave job reads the plan once and hands it on; every machine reads only its own slice.
    const plan = inHand ?? (await this.env.store.getRolloutPlan<RolloutPlan>(placementId));
    if (!plan) throw new Error(`no rollout plan for ${placementId}`);
    const ids = new Set(plan.waves[wave].machines);
    // Every machine job of the wave has ended: a machine its job left unresolved (outcome unknown,
    // or in flight when its retries ran out) is resolved from what its agent runs before the verdict.
    const { unresolved } = await this.reconcile(
      placementId,
      async () => false,
      (r) => ids.has(r.systemId),
    );
    // One whose agent cannot be asked counts as failed for the verdict; it is marked unknown, so the
    // reconciler job resolves it when its agent answers.
    for (const u of unresolved) {
      await this.underLease(placementId, u.systemId, `${placementId}.w${wave}`, async (fence) => {
        const r = await this.env.store.machine<MachineRecord>(placementId, u.systemId);
        if (r && !TERMINAL.has(r.state) && r.state !== 'unknown' && r.state !== 'rolling-back' && !r.verifiedAt)
          await this.saver(placementId, fence)({ ...r, state: 'unknown', reason: `outcome unknown: ${u.reason}` });
      }).catch(() => undefined);
    }
    const recs = (await this.env.store.machines<MachineRecord>(placementId)).filter((r) => ids.has(r.systemId));
    const control = await this.control(placementId);
    const outcomes: MachineOutcome[] = recs.map((r) =>
      r.state === 'committed' || r.verifiedAt
        ? 'committed'
        : r.state === 'cancelled'
          ? 'cancelled'
          : r.state === 'rolled-back'
            ? 'rolled-back'
            : 'failed',
    );
    const verdict = waveVerdict(
      outcomes.filter((o) => o !== 'cancelled'),
      plan.policy.failureThreshold,
    );

    // The operator's word comes first: machines a cancel rolled back are not failures of the wave.
    const stopped = control === 'cancel' || control === 'rollback';
    if (verdict.halt || stopped) {
      const why = stopped
        ? `rollout ${control === 'cancel' ? 'cancelled' : 'rolled back'} by the operator`
        : `wave ${wave} halted: ${verdict.failed} of ${verdict.total} machines failed (threshold ${Math.round(plan.policy.failureThreshold * 100)} %)`;
      await eachBounded(
        recs.filter((x) => x.verifiedAt && x.state === 'verifying'),
        COMMIT_CONCURRENCY,
        (r) => this.rollBack(placementId, r, { code: 'wave-halted', message: why }, `${placementId}.w${wave}`),
      );
      const result = stopped ? (control === 'cancel' ? 'cancelled' : 'rolled-back') : 'halted';
      return { wave, failed: verdict.failed, total: verdict.total, result };
    }
    const uncommitted: Array<{ systemId: string; reason: string }> = [];
    // The next wave waits on these commits, so they go out in parallel (machines are independent).
    await eachBounded(
      recs.filter((x) => x.verifiedAt && x.state === 'verifying'),
      COMMIT_CONCURRENCY,
      (seen) =>
        this.underLease(placementId, seen.systemId, `${placementId}.w${wave}`, async (fence) => {
          // Read again under the lease: what was read before it may have moved on.
          const r = await this.env.store.machine<MachineRecord>(placementId, seen.systemId);
          if (!r || !r.verifiedAt || r.state !== 'verifying') return;
          const [want, agent] = await Promise.all([this.env.desired(placementId, r.systemId), this.env.agentFor(r.systemId)]);
          const save = this.saver(placementId, fence);
          // commitMachine checks that the agent runs exactly this placement's chain before committing.
          const done = await commitMachine(r, want, { agent, save }).catch(async (e: unknown) => {
            // The agent did not answer the commit (dead or hung): whether it dropped the old chain is
            // not known. Unknown, for the reconciler to resolve from what it reports once it answers;
            // retrying here would hold the wave on a silent agent.
            const code = failureCode(e, 'verifying');
            if (code !== 'agent-unreachable' && code !== 'agent-timeout') throw e;
            const reason = `outcome unknown: commit not confirmed: ${(e as Error).message}`;
            uncommitted.push({ systemId: r.systemId, reason });
            return save({ ...r, state: 'unknown', verifiedAt: null, reason, code });
          });
          if (done.state === 'committed') await this.env.onCommitted(placementId, done, want);
        }),
    );
    // A placement completes only when every machine is terminal: the wave job runs again until then.
    if (wave + 1 >= plan.waves.length && (unresolved.length || uncommitted.length))
      throw new UnresolvedMachines(wave, [...unresolved, ...uncommitted]);
    return { wave, failed: verdict.failed, total: verdict.total, result: wave + 1 < plan.waves.length ? 'next' : 'completed' };
  }

  /**
   * Drives every non-terminal machine whose job is gone (or whose record says `unknown`) to
   * committed-new or restored-old, as its agent reports (resolveMachine decides). Machines whose
   * agent cannot be asked stay as they are and are returned as unresolved.
   */
  async reconcile(
    placementId: string,
    jobAlive: (systemId: string) => Promise<boolean>,
    only: (r: MachineRecord) => boolean = () => true,
  ): Promise<{ resolved: MachineRecord[]; unresolved: Array<{ systemId: string; reason: string }> }> {
    const recs = (await this.env.store.machines<MachineRecord>(placementId)).filter((r) => only(r) && !TERMINAL.has(r.state));
    const out = { resolved: [] as MachineRecord[], unresolved: [] as Array<{ systemId: string; reason: string }> };
    await eachBounded(recs, COMMIT_CONCURRENCY, async (r) => {
      try {
        const done = await this.reconcileMachine(placementId, r, await jobAlive(r.systemId));
        // A restore whose fenced write was refused hands back the record as it stands: not resolved.
        if (done && TERMINAL.has(done.state)) out.resolved.push(done);
        // A restore its agent did not answer is left rolling-back: unresolved until it does.
        else if (done) out.unresolved.push({ systemId: r.systemId, reason: done.reason ?? `${done.state}: not resolved` });
      } catch (e) {
        if (e instanceof LostMachine) return;
        out.unresolved.push({ systemId: r.systemId, reason: (e as Error).message });
      }
    });
    return out;
  }

  /**
   * Resolves one machine holding its lease, like any job that changes it: a machine job or a
   * wave's commit still holding it is waited out (or its hold runs out), and every write is
   * fenced, so a reconciler never overwrites a step in flight, and one whose hold was taken over
   * meanwhile writes nothing more (its write is refused and the machine is left to the holder).
   */
  private async reconcileMachine(placementId: string, seen: MachineRecord, jobAlive: boolean): Promise<MachineRecord | null> {
    if (seen.state !== 'unknown' && (jobAlive || (seen.state === 'verifying' && seen.verifiedAt))) return null;
    // Each pass holds under a name of its own: the same holder would take the lease over from a
    // pass still restoring the machine (a firmware rollback outlasts the reconcile period).
    return this.underLease(placementId, seen.systemId, `${placementId}.reconcile.${this.instance}.${++this.passes}`, async (fence) => {
      // Read again under the lease: a job may have moved the machine since it was listed; then
      // the next round looks at it afresh.
      const r = await this.env.store.machine<MachineRecord>(placementId, seen.systemId);
      if (!r || TERMINAL.has(r.state) || r.generation !== seen.generation) return null;
      const [want, agent] = await Promise.all([this.env.desired(placementId, r.systemId), this.env.agentFor(r.systemId)]);
      const decision = resolveMachine(r, await agentFacts(agent, want), jobAlive);
      this.env.log?.('machine reconciled', { placementId, systemId: r.systemId, state: r.state, action: decision.action });
      if (decision.action === 'none' || decision.action === 'wait') return null;
      if (decision.action === 'later') throw new Error(decision.reason);
      const save = this.saver(placementId, fence);
      // Unknown first: an in-flight record goes to its outcome through it (the transition table
      // says so); a rollback left half-done goes on as one.
      const rec =
        r.state === 'unknown' || r.state === 'rolling-back'
          ? r
          : await save({ ...r, state: 'unknown', reason: r.reason ?? `${r.state}: its job ended without an outcome` });
      const why = rec.reason?.startsWith(RESOLVED) ? rec.reason : `${RESOLVED}${rec.reason ?? 'outcome unknown'}`;
      switch (decision.action) {
        case 'record-committed': {
          const done = await save({ ...rec, state: 'committed', reason: null, code: null });
          await this.env.onCommitted(placementId, done, want);
          return done;
        }
        case 'record-restored':
          return save({ ...rec, state: 'rolled-back', reason: why, code: 'outcome-unknown', verifiedAt: null });
        case 'restore':
          return rollBackMachine(
            { ...rec, loaded: [...new Set([...rec.loaded, ...decision.loaded])], flashed: decision.flashed },
            want,
            { agent, save },
            { code: 'outcome-unknown', message: why },
          );
      }
    });
  }

  annotateMissing(): Promise<number> {
    return this.env.annotateMissing?.() ?? Promise.resolve(0);
  }

  /** Pending machines of later waves when a rollout stops: marked cancelled, nothing touched. */
  async cancelPending(placementId: string, reason: string, code: RolloutFailureCode = 'operator'): Promise<number> {
    const recs = await this.env.store.machines<MachineRecord>(placementId);
    let n = 0;
    for (const r of recs.filter((x) => x.state === 'pending')) {
      await this.underLease(placementId, r.systemId, `${placementId}.cancel`, (fence) =>
        this.saver(placementId, fence)({ ...r, state: 'cancelled', reason, code }),
      );
      n++;
    }
    return n;
  }

  /**
   * Whole-job rollback after waves committed: machines that ran nothing of ioplane's before this
   * placement get their chains removed and firmware restored; a machine that ran an earlier
   * placement keeps this one (its old programs are gone from the agent) and says so.
   */
  async revertCommitted(
    placementId: string,
    hadPrevious: (systemId: string) => Promise<boolean>,
  ): Promise<{ reverted: string[]; kept: string[] }> {
    const out = { reverted: [] as string[], kept: [] as string[] };
    for (const r of (await this.env.store.machines<MachineRecord>(placementId)).filter((x) => x.state === 'committed')) {
      if (await hadPrevious(r.systemId)) {
        out.kept.push(r.systemId);
        continue;
      }
      const done = await this.rollBack(
        placementId,
        { ...r, loaded: r.loaded },
        { code: 'operator', message: 'rolled back by the operator' },
      );
      if (done.state === 'rolled-back') out.reverted.push(r.systemId);
      else out.kept.push(r.systemId);
    }
    return out;
  }

  private async rollBack(
    placementId: string,
    r: MachineRecord,
    failure: Failure,
    holder = `${placementId}.rollback`,
  ): Promise<MachineRecord> {
    return this.underLease(placementId, r.systemId, holder, async (fence) => {
      const [want, agent] = await Promise.all([this.env.desired(placementId, r.systemId), this.env.agentFor(r.systemId)]);
      return rollBackMachine(r, want, { agent, save: this.saver(placementId, fence) }, failure);
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
      await leases
        .letGo(fence)
        .catch((e: unknown) => this.env.log?.('machine lease not given back', { placementId, systemId, err: (e as Error).message }));
    }
  }
}
