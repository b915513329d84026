import { JobName, JOBS, QUEUE_OF, QueueName } from './queue.names';

/** Where a job's handler lives: the processor class and the method @OnJob marked. */
export interface JobHandlerRef {
  job: JobName;
  owner: string;
  method: string;
}

const HANDLERS = Symbol('ioplane.jobHandlers');
type WithHandlers = { [HANDLERS]?: JobHandlerRef[] };

/**
 * Marks a processor method as the handler of one job: `@OnJob(JOBS.plan) plan(job) {...}`.
 * The worker finds handlers by this mark, both to run a job (dispatchJob) and to check at boot
 * that every job has exactly one (assertJobHandlers).
 */
export function OnJob(job: JobName): MethodDecorator {
  return (target, method) => {
    const ctor = target.constructor as WithHandlers & { name: string };
    // Own list per class: a subclass adds to a copy, never to its base class's handlers.
    const own = Object.prototype.hasOwnProperty.call(ctor, HANDLERS) ? ctor[HANDLERS]! : (ctor[HANDLERS] = [...(ctor[HANDLERS] ?? [])]);
    own.push({ job, owner: ctor.name, method: String(method) });
  };
}

export function jobHandlersOf(cls: object): JobHandlerRef[] {
  return [...((cls as WithHandlers)[HANDLERS] ?? [])];
}

export type JobHandlerProblemCode = 'job_without_handler' | 'job_with_two_handlers' | 'handler_for_unknown_job';

export interface JobHandlerProblem {
  code: JobHandlerProblemCode;
  job: string;
  message: string;
}

/** A worker whose handlers do not cover its jobs exactly once: it must not start. */
export class JobHandlersError extends Error {
  readonly code = 'job_handlers_mismatch';
  constructor(readonly problems: JobHandlerProblem[]) {
    super(`job handlers do not match the job registry: ${problems.map((p) => p.message).join('; ')}`);
  }
}

/**
 * Every registered job on the given queues has exactly one handler among the classes, and no
 * handler names a job the registry does not know. A job without a handler would sit in its
 * queue forever; two handlers would make which one runs an accident of boot order.
 */
export function checkJobHandlers(
  classes: readonly object[],
  queues: readonly QueueName[] = [...new Set(Object.values(QUEUE_OF))],
): JobHandlerProblem[] {
  const refs = classes.flatMap(jobHandlersOf);
  const known = new Set<string>(Object.values(JOBS));
  const problems: JobHandlerProblem[] = [];
  for (const r of refs.filter((x) => !known.has(x.job))) {
    problems.push({
      code: 'handler_for_unknown_job',
      job: r.job,
      message: `${r.owner}.${r.method} handles ${r.job}, which is no registered job`,
    });
  }
  for (const job of (Object.keys(QUEUE_OF) as JobName[]).filter((j) => queues.includes(QUEUE_OF[j]))) {
    const by = refs.filter((r) => r.job === job);
    if (by.length === 0) problems.push({ code: 'job_without_handler', job, message: `job ${job} (queue ${QUEUE_OF[job]}) has no handler` });
    if (by.length > 1)
      problems.push({
        code: 'job_with_two_handlers',
        job,
        message: `job ${job} has ${by.length} handlers: ${by.map((r) => `${r.owner}.${r.method}`).join(', ')}`,
      });
  }
  return problems;
}

export function assertJobHandlers(classes: readonly object[], queues?: readonly QueueName[]): void {
  const problems = checkJobHandlers(classes, queues);
  if (problems.length) throw new JobHandlersError(problems);
}

/** A job whose name no method of the processor handles (a job from a newer version, say). */
export class NoJobHandlerError extends Error {
  readonly code = 'no_job_handler';
  constructor(
    readonly job: string,
    readonly owner: string,
  ) {
    super(`no handler for job ${job} in ${owner}`);
  }
}

/** Runs the method of `host` that @OnJob marked for the job's name. */
export function dispatchJob<J extends { name: string }>(host: object, job: J, ...rest: unknown[]): Promise<unknown> {
  const ref = jobHandlersOf(host.constructor).find((r) => r.job === job.name);
  if (!ref) throw new NoJobHandlerError(job.name, host.constructor.name);
  return (host as Record<string, (job: J, ...rest: unknown[]) => Promise<unknown>>)[ref.method](job, ...rest);
}
