/** Queues and the jobs each carries. One handler per job name is checked at worker boot (assertJobHandlers). */
export const QUEUES = {
  fleet: 'fleet',
  placement: 'placement',
  rollout: 'rollout',
  rebalance: 'rebalance',
  /** Dry runs: the API awaits them, so they never wait behind real plans. */
  dryRun: 'dry-run',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const JOBS = {
  fleetSync: 'fleet-sync',
  maasEvents: 'maas-events',
  fleetDeploy: 'fleet-deploy',
  plan: 'plan',
  dryRun: 'dry-run-placement',
  rolloutStart: 'rollout-start',
  rolloutWave: 'rollout-wave',
  rolloutMachine: 'rollout-machine',
  rolloutReconcile: 'rollout-reconcile',
  telemetrySample: 'telemetry-sample',
  rebalanceDecide: 'rebalance-decide',
} as const;
export type JobName = (typeof JOBS)[keyof typeof JOBS];

/** The queue of every job: a job added anywhere else would never be run. */
export const QUEUE_OF: Record<JobName, QueueName> = {
  [JOBS.fleetSync]: QUEUES.fleet,
  [JOBS.maasEvents]: QUEUES.fleet,
  [JOBS.fleetDeploy]: QUEUES.fleet,
  [JOBS.plan]: QUEUES.placement,
  [JOBS.dryRun]: QUEUES.dryRun,
  [JOBS.rolloutStart]: QUEUES.rollout,
  [JOBS.rolloutWave]: QUEUES.rollout,
  [JOBS.rolloutMachine]: QUEUES.rollout,
  [JOBS.rolloutReconcile]: QUEUES.rollout,
  [JOBS.telemetrySample]: QUEUES.rebalance,
  [JOBS.rebalanceDecide]: QUEUES.rebalance,
};

export const JOBS_BY_QUEUE: Record<QueueName, JobName[]> = Object.fromEntries(
  Object.values(QUEUES).map((q) => [q, (Object.keys(QUEUE_OF) as JobName[]).filter((j) => QUEUE_OF[j] === q)]),
) as Record<QueueName, JobName[]>;

/** Hash-tagged so every key of a queue lands in one Redis Cluster slot. */
export function queuePrefix(prefix: string): string {
  return `{${prefix}}`;
}

/** BullMQ custom job ids may not contain ':'; keep them deterministic for deduplication. */
export function jobId(...parts: string[]): string {
  return parts.map((p) => p.replace(/[:\s]/g, '_')).join('.');
}
