import { addJob, jobs } from '@ioplane/queue';
import type { JobsOptions } from 'bullmq';
import type { StoredPlan } from '../placement.plan';
import { dryRunPlacementCommand, DryRunPlacementCommand } from './dry-run-placement.command';
import { DryRunOutcome, planOf } from './dry-run.outcome';

/** A dry-run job as BullMQ's Job shows it, with `E` its QueueEvents. */
export interface AwaitableJob<E> {
  id?: string;
  waitUntilFinished(events: E, ttl?: number): Promise<unknown>;
  getState(): Promise<string>;
  remove(): Promise<void>;
}

export interface QueuedDryRunDeps<E> {
  queue: { readonly name: string; add(name: string, data: unknown, opts?: JobsOptions): Promise<AwaitableJob<E>> };
  events: E;
  /** How long the caller waits for a worker's answer (DRY_RUN_DEADLINE_MS). */
  deadlineMs: number;
}

export type DryRunErrorCode = 'dry_run_timeout' | 'dry_run_failed';

/** No answer in time (no worker, or all busy), or the job failed in the worker: nothing was stored either way. */
export class DryRunError extends Error {
  constructor(
    readonly code: DryRunErrorCode,
    message: string,
    readonly jobId?: string,
  ) {
    super(message);
  }
}

/**
 * The API's side of a dry run: queues the request as a dry-run job and awaits the worker's
 * answer up to a deadline. The plan comes back as the worker made it; a refusal is thrown as the
 * same PlacementInputError or PlanValidationError the planner threw, so callers map it as before.
 */
export class QueuedDryRun<E> {
  constructor(private readonly deps: QueuedDryRunDeps<E>) {}

  async execute(input: DryRunPlacementCommand): Promise<StoredPlan> {
    const { request } = dryRunPlacementCommand.parse(input);
    const { deadlineMs } = this.deps;
    const job = await addJob(this.deps.queue, jobs.dryRun(request));
    let outcome: DryRunOutcome;
    try {
      outcome = (await job.waitUntilFinished(this.deps.events, deadlineMs)) as DryRunOutcome;
    } catch (e) {
      // The job's state tells a failure in the worker from a deadline, whatever the wording of BullMQ's error.
      const state = await job.getState().catch(() => 'unknown');
      if (state === 'failed') throw new DryRunError('dry_run_failed', `the dry run failed in the worker: ${(e as Error).message}`, job.id);
      // Nobody waits for it any more: a job no worker took yet is dropped (one being solved runs out).
      if (state === 'waiting' || state === 'prioritized') await job.remove().catch(() => undefined);
      throw new DryRunError(
        'dry_run_timeout',
        `no worker answered the dry run within ${Math.round(deadlineMs / 1000)} s: is a worker running?`,
        job.id,
      );
    }
    return planOf(outcome);
  }
}
