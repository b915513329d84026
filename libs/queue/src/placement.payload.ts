import { z } from 'zod';

export const planPayload = z.object({
  placementId: z.string().regex(/^pl-[a-z0-9-]+$/, 'must be a placement id'),
});
export type PlanPayload = z.infer<typeof planPayload>;

/** Placement ids carry their creation time so they sort, and never a ':' (BullMQ job ids). */
export function newPlacementId(now = Date.now()): string {
  return `pl-${now.toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

export const rolloutWavePayload = z.object({ placementId: planPayload.shape.placementId, wave: z.int().min(0) });
/**
 * maxUnavailable comes from the rollout plan the job's wave was released with, so a machine job
 * never reads the plan; jobs queued before it travelled lack it (the processor then reads the plan).
 */
export const rolloutMachinePayload = z.object({
  placementId: planPayload.shape.placementId,
  wave: z.int().min(0),
  systemId: z.string().regex(/^[a-z0-9]+$/),
  maxUnavailable: z.int().min(1).optional(),
});
