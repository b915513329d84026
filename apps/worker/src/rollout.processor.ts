import { Inject, Logger } from '@nestjs/common';
import { InjectQueue, OnWorkerEvent, Processor } from '@nestjs/bullmq';
import { metrics, rollbackReason } from '@ioplane/metrics';
import { DelayedError, FlowProducer, Job, Queue } from 'bullmq';
import type { PlacementRequest, StoredPlan } from '@ioplane/planning';
import {
  JOB_IDS,
  jobs,
  JOBS,
  OnJob,
  planPayload,
  QUEUES,
  rolloutMachinePayload,
  rolloutWavePayload,
  errorLogger,
  closeEvenWhenDown,
} from '@ioplane/queue';
import { MachineRecord, RolloutOrchestrator, RolloutPlan, RolloutStop, sliceMachines } from '@ioplane/rollout';
import { PLACEMENT_REPOSITORY, ROLLOUT_REPOSITORY } from '@ioplane/composition';
import { placementEnded } from '@ioplane/state';
import type { LeaseFence, PlacementRepository, RolloutRepository } from '@ioplane/state';
import { ROLLOUT_ORCHESTRATOR } from './worker.tokens';
import { keepRenewing, MACHINE_LEASE_MS } from './machine.lease';
import { JobProcessor } from './job.processor';

/** How long a machine stays locked without a renewal: a dead worker's machine frees itself. */
const MACHINE_LOCK_MS = 60_000;
const RETRY_LATER_MS = 300;

/**
 * BullMQ's job lock: a worker that dies mid-step loses its machine jobs to stalled-job recovery
 * after about lockDuration plus up to two stalled checks. IOPLANE_ROLLOUT_LOCK_MS shortens it
 * (tests kill workers); stalled checks run at half the lock, at most every 30 s.
 */
export function rolloutLockMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.IOPLANE_ROLLOUT_LOCK_MS;
  if (raw === undefined || raw === '') return 120_000;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 500)
    throw new Error(`invalid environment variable IOPLANE_ROLLOUT_LOCK_MS: must be an integer of at least 500 ms, got '${raw}'`);
  return n;
}

// Getters: read when the worker is created (not when this file is imported), so a process sets the variable before it boots a worker.
const workerOptions = {
  // Machine jobs mostly wait on agents (a flash takes minutes): 50 lets one worker process drive a
  // rollout with maxUnavailable 50 at full width, the width the rollout bench measures.
  concurrency: 50,
  maxStalledCount: 3,
  get lockDuration() {
    return rolloutLockMs();
  },
  get stalledInterval() {
    return Math.min(30_000, Math.floor(rolloutLockMs() / 2));
  },
};

@Processor(QUEUES.rollout, workerOptions)
export class RolloutProcessor extends JobProcessor {
  private readonly log = new Logger(RolloutProcessor.name);

  constructor(
    @Inject(ROLLOUT_ORCHESTRATOR) private readonly orchestrator: RolloutOrchestrator,
    @Inject(ROLLOUT_REPOSITORY) private readonly rollouts: RolloutRepository,
    @Inject(PLACEMENT_REPOSITORY) private readonly placements: PlacementRepository,
    @InjectQueue(QUEUES.rollout) private readonly queue: Queue,
  ) {
    super();
  }

  @OnJob(JOBS.rolloutStart)
  async start(job: Job) {
    const { placementId } = planPayload.parse(job.data);
    const rec = await this.placements.get(placementId);
    const plan = await this.placements.getPlan<StoredPlan>(placementId);
    if (!rec || !plan) throw new Error(`placement ${placementId} has no plan`);
    const request = rec.request as PlacementRequest;
    const feasible = plan.machines.filter((m) => m.feasible);
    // Each machine's part of the plan, with its artifacts by digest, is written before the waves:
    // from here on a machine's jobs read only their slice, never the plan or the catalog. The
    // slices follow from the stored plan alone, so a start job run again writes the same.
    await this.rollouts.putMachineSlices(
      placementId,
      sliceMachines(placementId, feasible, plan.modules, request.policy?.acceptNotRun === true),
    );
    const rollout = await this.orchestrator.start(placementId, feasible, request.policy.rollout);
    await this.placements.setStatus(placementId, 'rolling-out');
    if (rollout.waves.length === 0) {
      await this.placements.setStatus(placementId, 'completed');
      return { waves: 0 };
    }
    await this.releaseWave(rollout, 0);
    return { waves: rollout.waves.length, machines: rollout.waves.reduce((n, w) => n + w.machines.length, 0) };
  }

  /** A wave is a flow: its machine jobs are children, the wave job runs once they all ended. */
  private async releaseWave(plan: RolloutPlan, index: number): Promise<void> {
    const flow = new FlowProducer({ connection: this.queue.opts.connection, prefix: this.queue.opts.prefix });
    flow.on('error', this.redisError);
    try {
      await flow.add({
        ...jobs.rolloutWave(plan.placementId, index),
        children: plan.waves[index].machines.map((systemId) =>
          jobs.rolloutMachine(plan.placementId, index, systemId, plan.policy.maxUnavailable),
        ),
      });
    } finally {
      await flow.close();
    }
  }

  @OnJob(JOBS.rolloutMachine)
  async machine(job: Job, token?: string) {
    const { placementId, systemId, ...data } = rolloutMachinePayload.parse(job.data);
    const [maxUnavailable, control] = await Promise.all([
      data.maxUnavailable ?? this.maxUnavailableOf(placementId),
      this.rollouts.control(placementId),
    ]);
    if (control === 'pause') return this.later(job, token);
    // maxUnavailable: a machine waits for a free slot; the lease frees it if this worker dies.
    if (!(await this.rollouts.acquireSlot(placementId, systemId, maxUnavailable, MACHINE_LOCK_MS))) return this.later(job, token);
    const lockToken = `${job.id}`;
    // The same job resumed after its worker died (stalled-job recovery) takes its own lock back:
    // BullMQ's job lock already guarantees one runner per job, the record's generation the rest.
    const locked =
      (await this.rollouts.lockMachine(systemId, lockToken, MACHINE_LOCK_MS)) ||
      (await this.rollouts.renewMachineLock(systemId, lockToken, MACHINE_LOCK_MS));
    if (!locked) {
      // Another job holds the machine: its lease runs out if its worker died.
      await this.rollouts.releaseSlot(placementId, systemId);
      return this.later(job, token);
    }
    // The machine's lease, owned by this placement since it was planned: every state write of
    // this job carries its fence. The same job resumed after its worker died takes it over with
    // a new generation, so the dead run's late writes are refused; another placement never does.
    let fence: LeaseFence;
    try {
      const held = await this.rollouts.acquireLease(systemId, placementId, lockToken, MACHINE_LEASE_MS, (owner) =>
        placementEnded(this.placements, owner),
      );
      if (!held.ok && held.why === 'owned') throw new Error(`machine_leased: machine ${systemId} is leased by placement ${held.owner}`);
      if (!held.ok) {
        await Promise.all([this.rollouts.unlockMachine(systemId, lockToken), this.rollouts.releaseSlot(placementId, systemId)]);
        return this.later(job, token);
      }
      fence = held.fence;
    } catch (e) {
      await Promise.all([this.rollouts.unlockMachine(systemId, lockToken), this.rollouts.releaseSlot(placementId, systemId)]);
      throw e;
    }
    const lease = keepRenewing(
      () =>
        Promise.all([
          this.rollouts.renewMachineLock(systemId, lockToken, MACHINE_LOCK_MS),
          this.rollouts.acquireSlot(placementId, systemId, maxUnavailable, MACHINE_LOCK_MS),
          this.rollouts
            .renewLease(fence, MACHINE_LEASE_MS)
            .then(
              (ok) =>
                ok || this.log.warn({ systemId, placementId, gen: fence.gen }, 'machine lease taken over: this job writes nothing more'),
            ),
        ]),
      MACHINE_LOCK_MS / 3,
      (e) =>
        this.log.warn({ systemId, placementId, err: (e as Error).message }, 'machine lock renewal failed; retrying on the next period'),
    );
    try {
      const rec = await this.orchestrator.runMachine(placementId, systemId, undefined, fence);
      await job.updateProgress({ state: rec.state, verified: !!rec.verifiedAt });
      if (rec.state === 'rolled-back') metrics.rollbacks.inc({ reason: rollbackReason(rec) });
      return { systemId, state: rec.state, verified: !!rec.verifiedAt, reason: rec.reason };
    } catch (e) {
      if (e instanceof RolloutStop && e.control === 'pause') return this.later(job, token);
      throw e;
    } finally {
      await lease.stop();
      // Lock, slot and hold are independent keys: all are given back at once (the placement keeps
      // the machine's lease until its wave committed or rolled back).
      await Promise.all([
        this.rollouts.unlockMachine(systemId, lockToken),
        this.rollouts.releaseSlot(placementId, systemId),
        this.rollouts.letGoLease(fence),
      ]);
    }
  }

  /** A machine job queued before its data carried maxUnavailable reads it from the plan. */
  private async maxUnavailableOf(placementId: string): Promise<number> {
    const plan = await this.rollouts.getRolloutPlan<RolloutPlan>(placementId);
    if (!plan) throw new Error(`no rollout plan for ${placementId}`);
    return plan.policy.maxUnavailable;
  }

  /**
   * The reconciler (a repeatable job, RolloutReconcileScheduler): in every rolling-out placement,
   * machines whose outcome is unknown or whose job is gone are driven to committed-new or
   * restored-old as their agents report; a wave whose job ran out of retries is decided again;
   * commits MAAS missed get their annotations.
   */
  @OnJob(JOBS.rolloutReconcile)
  async reconcile() {
    // A halted or stopped placement may still hold a machine marked unknown: every placement is looked at.
    const all = await this.placements.list(1000);
    const rolling = all.filter((p) => !['queued', 'planning', 'planned', 'infeasible'].includes(p.status));
    const out = {
      placements: rolling.length,
      resolved: 0,
      unresolved: [] as Array<{ systemId: string; reason: string }>,
      wavesRetried: 0,
      annotated: 0,
      artifactsFreed: 0,
    };
    for (const p of rolling) {
      // Pending machines of waves not released yet have no job, and need none.
      const r = await this.orchestrator.reconcile(
        p.id,
        (systemId) => this.jobAlive(JOB_IDS.rolloutMachine(p.id, systemId)),
        (m) => m.state !== 'pending',
      );
      out.resolved += r.resolved.length;
      out.unresolved.push(...r.unresolved);
      const plan = await this.rollouts.getRolloutPlan<RolloutPlan>(p.id);
      for (const w of p.status === 'rolling-out' ? (plan?.waves ?? []) : []) {
        const wave = await this.queue.getJob(JOB_IDS.rolloutWave(p.id, w.index));
        if (wave && (await wave.getState()) === 'failed') {
          await wave.retry('failed');
          out.wavesRetried++;
        }
      }
    }
    out.annotated = await this.orchestrator.annotateMissing();
    // Module objects only placements that ended still held: nothing will ship them again.
    out.artifactsFreed = await this.rollouts.sweepArtifacts(async (ids) => {
      const ended = await Promise.all(ids.map((id) => placementEnded(this.placements, id)));
      return new Set(ids.filter((_, i) => ended[i]));
    });
    if (out.resolved || out.unresolved.length || out.wavesRetried || out.annotated || out.artifactsFreed)
      this.log.log(out, 'rollouts reconciled');
    return out;
  }

  private async jobAlive(jobId: string): Promise<boolean> {
    const job = await this.queue.getJob(jobId);
    if (!job) return false;
    const state = await job.getState();
    return state !== 'completed' && state !== 'failed' && state !== 'unknown';
  }

  private async later(job: Job, token?: string): Promise<never> {
    await job.moveToDelayed(Date.now() + RETRY_LATER_MS, token);
    throw new DelayedError();
  }

  @OnJob(JOBS.rolloutWave)
  async wave(job: Job) {
    const { placementId, wave } = rolloutWavePayload.parse(job.data);
    // Read once for the whole wave: its verdict, the next wave's release and the leases given back.
    const plan = await this.rollouts.getRolloutPlan<RolloutPlan>(placementId);
    if (!plan) throw new Error(`no rollout plan for ${placementId}`);
    const outcome = await this.orchestrator.finishWave(placementId, wave, plan);
    if (outcome.result !== 'next' && outcome.result !== 'completed') {
      // Machines that had passed their own check but went back with their wave.
      const back = (await this.rollouts.machines<Pick<MachineRecord, 'wave' | 'state' | 'code'>>(placementId)).filter(
        (m) => m.wave === wave && m.state === 'rolled-back' && (m.code === 'wave-halted' || m.code === 'operator'),
      );
      for (const m of back) metrics.rollbacks.inc({ reason: rollbackReason(m) });
    }
    await job.updateProgress({ ...outcome });
    this.log.log({ placementId, ...outcome }, 'wave finished');
    // The rollout ends here: commits and rollbacks are done, its machines are free for the next placement.
    const release = () =>
      this.rollouts.releaseLeases(
        placementId,
        plan.waves.flatMap((w) => w.machines),
      );
    switch (outcome.result) {
      case 'next':
        await this.releaseWave(plan, wave + 1);
        break;
      case 'completed': {
        // Keep the note on machines the plan left out (allowPartial).
        const rec = await this.placements.get(placementId);
        await this.placements.setStatus(placementId, 'completed', rec?.error ?? null);
        await release();
        break;
      }
      case 'halted': {
        const why = `wave ${wave} halted: ${outcome.failed} of ${outcome.total} machines failed; the wave was rolled back`;
        await this.orchestrator.cancelPending(placementId, why, 'wave-halted');
        await this.placements.setStatus(placementId, 'failed', why);
        await release();
        break;
      }
      case 'cancelled':
        await this.orchestrator.cancelPending(placementId, 'cancelled by the operator');
        await this.placements.setStatus(placementId, 'cancelled');
        await release();
        break;
      case 'rolled-back': {
        await this.orchestrator.cancelPending(placementId, 'rolled back by the operator');
        const r = await this.orchestrator.revertCommitted(
          placementId,
          async (id) => !!(await this.rollouts.observed(id))?.previousPlacementId,
        );
        for (const id of r.reverted) await this.rollouts.clearObserved(id);
        await this.placements.setStatus(
          placementId,
          'rolled-back',
          r.kept.length
            ? `${r.kept.length} machine(s) ran an earlier placement and keep this one: resubmit the earlier placement for them`
            : null,
        );
        await release();
        break;
      }
    }
    return outcome;
  }

  private readonly redisError = errorLogger('worker rollout', (f, m) => this.log.warn(f, m));

  /** A Redis error of this worker's connections, logged through pino (see errorLogger). */
  @OnWorkerEvent('error')
  onError(err: Error): void {
    this.redisError(err);
  }

  /** Set up once @nestjs/bullmq made the worker: a shutdown during a Redis outage must still end. */
  onApplicationBootstrap(): void {
    closeEvenWhenDown(this.worker, 'worker rollout', (f, m) => this.log.warn(f, m));
  }

  @OnWorkerEvent('completed')
  onCompleted(job: Job): void {
    metrics.observeJob(QUEUES.rollout, job, 'completed');
  }

  @OnWorkerEvent('failed')
  onFailed(job: Job | undefined, err: Error): void {
    if (job && !(err instanceof DelayedError)) metrics.observeJob(QUEUES.rollout, job, 'failed');
    if (err instanceof DelayedError) return;
    this.log.warn({ jobId: job?.id, job: job?.name, attemptsMade: job?.attemptsMade, err: err.message }, 'rollout job failed');
  }
}
