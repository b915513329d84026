/** Queues and the jobs each carries. One handler per job name is checked at worker boot. */
export const QUEUES = {
  fleet: 'fleet',
  placement: 'placement',
  rollout: 'rollout',
  rebalance: 'rebalance',
} as const;
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const JOBS = {
  fleetSync: 'fleet-sync',
  maasEvents: 'maas-events',
  fleetDeploy: 'fleet-deploy',
  plan: 'plan',
  rolloutStart: 'rollout-start',
  rolloutWave: 'rollout-wave',
  rolloutMachine: 'rollout-machine',
  rolloutReconcile: 'rollout-reconcile',
  telemetrySample: 'telemetry-sample',
  rebalanceDecide: 'rebalance-decide',
} as const;
export type JobName = (typeof JOBS)[keyof typeof JOBS];

export const JOBS_BY_QUEUE: Record<QueueName, JobName[]> = {
  fleet: [JOBS.fleetSync, JOBS.maasEvents, JOBS.fleetDeploy],
  placement: [JOBS.plan],
  rollout: [JOBS.rolloutStart, JOBS.rolloutWave, JOBS.rolloutMachine, JOBS.rolloutReconcile],
  rebalance: [JOBS.telemetrySample, JOBS.rebalanceDecide],
};

/** Hash-tagged so every key of a queue lands in one Redis Cluster slot. */
export function queuePrefix(prefix: string): string {
  return `{${prefix}}`;
}

/** BullMQ custom job ids may not contain ':'; keep them deterministic for deduplication. */
export function jobId(...parts: string[]): string {
  return parts.map((p) => p.replace(/[:\s]/g, '_')).join('.');
}
