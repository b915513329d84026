// The async-local store nestjs-pino's loggers read (its request logger lives there too); not on its index.
import { storage, Store } from 'nestjs-pino/storage';
import type { Logger } from 'pino';

/** What a job's log lines carry, as a request's lines carry its request id. */
export interface JobLogBindings {
  jobId?: string;
  job: string;
  queue?: string;
  placementId?: string;
  /** The machine (MAAS system_id) a per-machine job acts on. */
  machine?: string;
  wave?: number;
}

interface JobLike {
  id?: string;
  name: string;
  queueName?: string;
  data?: unknown;
}

export function jobLogBindings(job: JobLike): JobLogBindings {
  const d = (job.data && typeof job.data === 'object' ? job.data : {}) as Record<string, unknown>;
  const out: JobLogBindings = { job: job.name };
  if (job.id) out.jobId = job.id;
  if (job.queueName) out.queue = job.queueName;
  if (typeof d.placementId === 'string') out.placementId = d.placementId;
  if (typeof d.systemId === 'string') out.machine = d.systemId;
  if (typeof d.wave === 'number') out.wave = d.wave;
  return out;
}

/**
 * Runs a job's handler with a child of `root` bound to the job's ids as the logger of its async
 * context: nestjs-pino's loggers (and so every Nest `Logger` of the process) read it from there,
 * as they read a request's logger, so every line the job writes, wherever it is written, names
 * its job, placement and machine.
 */
export function withJobLog<T>(root: Logger, job: JobLike, fn: () => Promise<T>): Promise<T> {
  return storage.run(new Store(root.child(jobLogBindings(job))), fn);
}
