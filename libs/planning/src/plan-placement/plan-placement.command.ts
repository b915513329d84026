import { z } from 'zod';
import { planPayload } from '@ioplane/queue';

/** The plan job's payload: the placement to plan; its request is read from the store, once. */
export const planPlacementCommand = planPayload;
export type PlanPlacementCommand = z.input<typeof planPlacementCommand>;
