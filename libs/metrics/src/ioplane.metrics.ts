import type { RolloutFailureCode } from '@ioplane/rollout';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const DURATION_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900];

/**
 * Every series ioplane exports. One registry per process: in the embedded stack the API serves
 * what the worker in the same process counted; a separate worker serves its own on METRICS_PORT.
 */
export class IoplaneMetrics {
  readonly registry = new Registry();
  readonly queueJobs = new Gauge({
    name: 'ioplane_queue_jobs',
    help: 'Jobs per queue and state',
    labelNames: ['queue', 'state'],
    registers: [this.registry],
  });
  readonly jobDuration = new Histogram({
    name: 'ioplane_job_duration_seconds',
    help: 'Time from a job starting to its end, per queue, job name (stage) and result',
    labelNames: ['queue', 'job', 'result'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly placementsByTarget = new Gauge({
    name: 'ioplane_placements_by_target',
    help: 'Modules running per target, from the observed state',
    labelNames: ['target'],
    registers: [this.registry],
  });
  readonly rollbacks = new Counter({
    name: 'ioplane_rollbacks_total',
    help: 'Machines rolled back, by reason',
    labelNames: ['reason'],
    registers: [this.registry],
  });
  readonly maasCalls = new Histogram({
    name: 'ioplane_maas_request_duration_seconds',
    help: 'MAAS API calls (after retries) by method, operation and result',
    labelNames: ['method', 'op', 'result'],
    buckets: [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30, 120],
    registers: [this.registry],
  });
  readonly maasErrors = new Counter({
    name: 'ioplane_maas_errors_total',
    help: 'MAAS API errors by code',
    labelNames: ['code'],
    registers: [this.registry],
  });
  readonly agentReachable = new Gauge({
    name: 'ioplane_agent_reachable',
    help: '1 when the host agent answered its last call, 0 when it did not',
    labelNames: ['system_id'],
    registers: [this.registry],
  });
  readonly compileCache = new Counter({
    name: 'ioplane_compile_cache_total',
    help: 'Module builds served from the artifact cache (hit) or built by clang (miss)',
    labelNames: ['result'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'ioplane_process_' });
  }

  onMaasCall = (c: { method: string; op: string; ok: boolean; code: string | null; seconds: number }): void => {
    this.maasCalls.observe({ method: c.method, op: c.op, result: c.ok ? 'ok' : 'error' }, c.seconds);
    if (!c.ok) this.maasErrors.inc({ code: c.code ?? 'error' });
  };

  observeJob(queue: string, job: { name: string; processedOn?: number; finishedOn?: number }, result: 'completed' | 'failed'): void {
    if (!job.processedOn) return;
    this.jobDuration.observe({ queue, job: job.name, result }, Math.max(0, ((job.finishedOn ?? Date.now()) - job.processedOn) / 1000));
  }
}

/**
 * The metric label of each rollout failure code. Read from the record's code, never from its
 * message: rewording a message must not move a rollback to another label.
 */
const ROLLBACK_LABEL: Record<RolloutFailureCode, string> = {
  flash: 'flash',
  load: 'load',
  signature: 'signature',
  health: 'health_check',
  commit: 'commit',
  'agent-timeout': 'agent_timeout',
  'agent-unreachable': 'agent_unreachable',
  'wave-halted': 'wave_halted',
  operator: 'operator',
  'outcome-unknown': 'outcome_unknown',
  internal: 'other',
};

/** A rolled-back machine's label, from its record's failure code (a record written before codes: `other`). */
export function rollbackReason(rec: { code?: RolloutFailureCode | null }): string {
  return (rec.code && ROLLBACK_LABEL[rec.code]) ?? 'other';
}

export const metrics = new IoplaneMetrics();
