import { z } from 'zod';

export const fleetSyncPayload = z.object({
  reason: z.enum(['schedule', 'manual', 'maas-event', 'boot']),
  /** Machines whose change triggered the sync; the sync still reads the whole fleet. */
  systemIds: z.array(z.string().regex(/^[a-z0-9]+$/, 'must be a MAAS system_id')).default([]),
  requestedBy: z.string().optional(),
});
export type FleetSyncPayload = z.infer<typeof fleetSyncPayload>;

export interface FleetSyncResult {
  machines: number;
  devices: number;
  unprofiled: number;
  generation: number;
  durationMs: number;
}

/**
 * Any number of sync requests (operator, MAAS events) collapse onto one waiting job;
 * a request during a running sync leaves exactly one follow-up, so no change is missed.
 */
export const FLEET_SYNC_JOB_OPTIONS = {
  deduplication: { id: 'fleet-sync', keepLastIfActive: true },
  removeOnComplete: 100,
  removeOnFail: 500,
} as const;
