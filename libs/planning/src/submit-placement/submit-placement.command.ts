import { z } from 'zod';
import { placementRequestSchema } from '../placement-request.schema';

export const submitPlacementCommand = z.object({
  request: placementRequestSchema,
  /** Idempotency-Key (API), or the submitting flow's own key (rebalance, provisioning): a repeat returns the same placement. */
  idempotencyKey: z.string().min(1).nullable().default(null),
  /**
   * Lease the selector's machines now, so a conflicting placement is refused at once (the API).
   * Otherwise the plan job claims them (rebalancing and provisioning submit from jobs).
   */
  leaseNow: z.boolean().default(false),
});
export type SubmitPlacementCommand = z.input<typeof submitPlacementCommand>;
