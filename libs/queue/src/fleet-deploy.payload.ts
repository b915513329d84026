import { z } from 'zod';
import { jobId } from './queue.names';

/** One machine MAAS deploys with the ioplane agent (a placement with `policy.deploy`, or `ioplane fleet deploy`). */
export const fleetDeployPayload = z.object({
  systemId: z.string().regex(/^[a-z0-9]+$/, 'must be a MAAS system_id'),
  /** The placement that asked for it, if any: its machine follows it once deployed (provisioning). */
  placementId: z.string().optional(),
  requestedBy: z.string().optional(),
});
export type FleetDeployPayload = z.infer<typeof fleetDeployPayload>;

/**
 * One deploy job per machine at a time: a request while one waits or runs joins it (deduplication);
 * a later request (say, after a failure) is a job of its own, `deploy.<systemId>.<requestId>`. A
 * failed deployment is retried `retries` times, each attempt releasing the machine first; the
 * job's failure keeps MAAS's reason.
 */
export function fleetDeployJobOptions(systemId: string, retries: number, requestId: string) {
  return {
    jobId: jobId('deploy', systemId, requestId),
    deduplication: { id: jobId('deploy', systemId) },
    attempts: retries + 1,
    backoff: { type: 'fixed', delay: 1_000 },
    removeOnComplete: 1000,
    removeOnFail: 1000,
  } as const;
}
