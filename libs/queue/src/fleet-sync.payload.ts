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
 * A sync that failed (MAAS down longer than the client's own retries) runs again after 1 s, then
 * 2 s: three attempts stay under the MAAS circuit breaker's five consecutive failures, so a MAAS
 * that recovers is read at once.
 */
export const FLEET_SYNC_RETRY = { attempts: 3, backoff: { type: 'exponential', delay: 1000 } } as const;

/**
 * Any number of sync requests (operator, MAAS events) collapse onto one waiting job;
 * a request during a running sync leaves exactly one follow-up, so no change is missed.
 */
export const FLEET_SYNC_JOB_OPTIONS = {
  ...FLEET_SYNC_RETRY,
  deduplication: { id: 'fleet-sync', keepLastIfActive: true },
  removeOnComplete: 100,
  removeOnFail: 500,
} as const;
