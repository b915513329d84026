import type { JobsOptions } from 'bullmq';
import { FLEET_SYNC_JOB_OPTIONS, FleetSyncPayload } from './fleet-sync.payload';
import { fleetDeployJobOptions, FleetDeployPayload } from './fleet-deploy.payload';
import { jobId, JobName, JOBS, QUEUE_OF, QueueName } from './queue.names';

/**
 * One job as it is queued: name, queue, payload, id and options from one place, so every
 * producer of a job (API, worker, flows) adds the same thing. A FlowProducer takes it as it is.
 */
export interface JobDescriptor<D = unknown> {
  name: JobName;
  queueName: QueueName;
  data: D;
  opts: JobsOptions;
}

/** What a job is added to: a BullMQ Queue, or a fake of one in a spec. */
export interface JobQueue {
  readonly name: string;
  add(name: string, data: unknown, opts?: JobsOptions): Promise<{ id?: string }>;
}

/** Kept long enough for `GET /v1/jobs/{id}` and the reconciler's look-ups; bounded so Redis does not grow. */
const KEEP = { removeOnComplete: 1000, removeOnFail: 1000 } as const;
const KEEP_REBALANCE = { removeOnComplete: 100, removeOnFail: 200 } as const;
/** A dry run's answer goes to the API that awaits it; kept a few minutes for a look afterwards, never retried (the caller asks again). */
const KEEP_DRY_RUN = { removeOnComplete: { age: 300, count: 1000 }, removeOnFail: { age: 300, count: 1000 }, attempts: 1 } as const;

function job<D>(name: JobName, data: D, opts: JobsOptions): JobDescriptor<D> {
  return { name, queueName: QUEUE_OF[name], data, opts };
}

/**
 * The jobs producers add. Ids are deterministic where a job must happen once per thing (a
 * placement's plan, its start, a wave, a machine of a wave, a rebalance window), which is also
 * how the reconciler finds them again (`JOB_IDS`).
 */
export const JOB_IDS = {
  plan: (placementId: string) => jobId(placementId),
  rolloutStart: (placementId: string) => jobId(placementId, 'start'),
  rolloutWave: (placementId: string, wave: number) => jobId(placementId, `w${wave}`),
  rolloutMachine: (placementId: string, systemId: string) => jobId(placementId, 'm', systemId),
  rebalanceDecide: (window: number) => jobId('decide', `w${window}`),
};

export const jobs = {
  fleetSync: (data: FleetSyncPayload) => job(JOBS.fleetSync, data, FLEET_SYNC_JOB_OPTIONS),
  fleetDeploy: (data: FleetDeployPayload, retries: number, requestId: string) =>
    job(JOBS.fleetDeploy, data, fleetDeployJobOptions(data.systemId, retries, requestId)),
  plan: (placementId: string) => job(JOBS.plan, { placementId }, { jobId: JOB_IDS.plan(placementId), ...KEEP }),
  /** The request travels in the job (nothing is stored); BullMQ gives it an id. */
  dryRun: <R>(request: R) => job(JOBS.dryRun, { request }, KEEP_DRY_RUN),
  rolloutStart: (placementId: string) => job(JOBS.rolloutStart, { placementId }, { jobId: JOB_IDS.rolloutStart(placementId), ...KEEP }),
  /** Run again while Redis is unavailable or a machine's agent cannot be asked yet (UnresolvedMachines): about 8.5 min in all. */
  rolloutWave: (placementId: string, wave: number) =>
    job(
      JOBS.rolloutWave,
      { placementId, wave },
      { jobId: JOB_IDS.rolloutWave(placementId, wave), attempts: 10, backoff: { type: 'exponential', delay: 1000 }, ...KEEP },
    ),
  /** A machine job that errors still lets the wave decide; retries resume from the durable record. */
  rolloutMachine: (placementId: string, wave: number, systemId: string, maxUnavailable?: number) =>
    job(
      JOBS.rolloutMachine,
      { placementId, wave, systemId, ...(maxUnavailable === undefined ? {} : { maxUnavailable }) },
      {
        jobId: JOB_IDS.rolloutMachine(placementId, systemId),
        attempts: 3,
        backoff: { type: 'exponential', delay: 500 },
        ignoreDependencyOnFailure: true,
        ...KEEP,
      },
    ),
  rebalanceDecide: (window: number) => job(JOBS.rebalanceDecide, { window }, { jobId: JOB_IDS.rebalanceDecide(window), ...KEEP_REBALANCE }),
};

/** A job added to a queue that does not carry it would wait forever: refused here instead. */
export class WrongQueueError extends Error {
  readonly code = 'job_on_wrong_queue';
  constructor(
    readonly job: JobName,
    readonly queue: string,
  ) {
    super(`job ${job} belongs on queue ${QUEUE_OF[job]}, not ${queue}`);
  }
}

export async function addJob<D, R extends { id?: string }>(
  queue: { readonly name: string; add(name: string, data: unknown, opts?: JobsOptions): Promise<R> },
  d: JobDescriptor<D>,
): Promise<R> {
  if (queue.name !== d.queueName) throw new WrongQueueError(d.name, queue.name);
  return queue.add(d.name, d.data, d.opts);
}
