import type { JobsOptions } from 'bullmq';
import { FLEET_SYNC_RETRY, FleetSyncPayload } from './fleet-sync.payload';
import { JobName, JOBS, QUEUE_OF, QueueName } from './queue.names';
import { WrongQueueError } from './job.registry';

/**
 * A repeatable job as the job registry defines it: the scheduler's id (upserted under it, so any
 * number of workers booting yields one schedule), its period, and the job each tick adds.
 */
export interface JobSchedule<D = unknown> {
  schedulerId: string;
  queueName: QueueName;
  every: number;
  job: { name: JobName; data: D; opts: JobsOptions };
}

/** What a schedule is upserted on: a BullMQ Queue, or a fake of one in a spec. */
export interface ScheduleQueue {
  readonly name: string;
  upsertJobScheduler(id: string, repeat: { every: number }, template: { name: string; data: unknown; opts: JobsOptions }): Promise<unknown>;
}

/** Ticks are frequent: a short history is enough to see what the last runs did. */
const KEEP_TICKS = { removeOnComplete: 50, removeOnFail: 200 } as const;
const KEEP_SAMPLES = { removeOnComplete: 100, removeOnFail: 200 } as const;

function schedule<D>(schedulerId: string, every: number, name: JobName, data: D, opts: JobsOptions): JobSchedule<D> {
  return { schedulerId, queueName: QUEUE_OF[name], every, job: { name, data, opts } };
}

export const schedules = {
  fleetSync: (every: number) =>
    schedule<FleetSyncPayload>(
      'fleet-sync-schedule',
      every,
      JOBS.fleetSync,
      { reason: 'schedule', systemIds: [] },
      { ...KEEP_TICKS, ...FLEET_SYNC_RETRY },
    ),
  maasEvents: (every: number) => schedule('maas-events-schedule', every, JOBS.maasEvents, {}, KEEP_TICKS),
  /** Each sampling round queues its decision round. */
  telemetrySample: (every: number) => schedule('telemetry-sample-schedule', every, JOBS.telemetrySample, { decide: true }, KEEP_SAMPLES),
  rolloutReconcile: (every: number) => schedule('rollout-reconcile-schedule', every, JOBS.rolloutReconcile, {}, KEEP_TICKS),
};

/** Like addJob: a schedule on a queue that does not carry its job would add jobs nothing runs. */
export async function upsertSchedule<D>(queue: ScheduleQueue, s: JobSchedule<D>): Promise<void> {
  if (queue.name !== s.queueName) throw new WrongQueueError(s.job.name, queue.name);
  await queue.upsertJobScheduler(s.schedulerId, { every: s.every }, s.job);
}
