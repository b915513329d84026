import { z } from 'zod';
import { listOf, queuedJob, timestamp } from './common.dto';

export const device = z.looseObject({
  id: z.string(),
  kind: z.string(),
  name: z.string(),
  profileId: z.string().nullable(),
  interfaces: z.array(z.string()),
});

export const fleetMachine = z.looseObject({
  systemId: z.string(),
  hostname: z.string(),
  status: z.int(),
  statusName: z.string(),
  zone: z.string(),
  pool: z.string(),
  tags: z.array(z.string()),
  parentSystemId: z.string().nullable(),
  isDpu: z.boolean(),
  devices: z.array(device),
  agentUrl: z.string().nullable(),
  syncedAt: timestamp,
});

export const fleetList = listOf(fleetMachine).extend({ generation: z.number(), syncedAt: timestamp.nullable() });
export const syncQueued = queuedJob;
export const deployQueued = z.object({
  queue: z.string(),
  name: z.string(),
  jobs: z.array(z.object({ systemId: z.string(), hostname: z.string(), jobId: z.string() })),
});

export const jobView = z.object({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  progress: z.unknown(),
  attemptsMade: z.int(),
  result: z.unknown(),
  failedReason: z.string().nullable(),
  createdAt: timestamp,
  finishedAt: timestamp.nullable(),
});

export const profileList = listOf(z.looseObject({ id: z.string(), vendor: z.string(), model: z.string() }));
