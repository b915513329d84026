import { z } from 'zod';
import { placementRequestSchema } from '../placement-request.schema';

/** A request to plan without storing anything: the dry-run job's payload. */
export const dryRunPlacementCommand = z.object({ request: placementRequestSchema });
export type DryRunPlacementCommand = z.input<typeof dryRunPlacementCommand>;
