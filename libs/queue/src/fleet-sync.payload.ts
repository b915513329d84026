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
