import { ROLLOUT_FAILURE_CODES } from '@ioplane/rollout';
import { z } from 'zod';
import { HOOKS, TARGETS } from '@ioplane/domain';
import { listOf, timestamp } from './common.dto';

export const placementStatus = z
  .string()
  .describe('queued, planning, planned, rolling-out, paused, completed, failed, infeasible, cancelled, rolled-back');

export const placementRecord = z.looseObject({
  id: z.string(),
  request: z.unknown(),
  status: placementStatus,
  reason: z.string(),
  idempotencyKey: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
  error: z.string().nullable(),
});

export const hop = z.looseObject({
  module: z.string(),
  target: z.enum(TARGETS),
  deviceId: z.string(),
  interface: z.string(),
  hook: z.enum(HOOKS),
  position: z.int(),
  port: z.int(),
  profileId: z.string().nullable(),
  pps: z.number(),
  reasons: z.array(z.string()),
});

export const machinePlan = z.looseObject({
  systemId: z.string(),
  hostname: z.string(),
  feasible: z.boolean(),
  paths: z.array(
    z.looseObject({
      ingress: z.looseObject({ interface: z.string(), deviceId: z.string(), pps: z.number(), meanPacketBytes: z.number() }),
      hops: z.array(hop),
    }),
  ),
  infeasible: z.array(z.looseObject({ module: z.string() })),
  // An infeasible machine has no finite cost: JSON carries its Infinity as null.
  cost: z.number().nullable(),
  lowerBound: z.number().nullable(),
  flavourSwitches: z.record(z.string(), z.string()),
  solver: z.string(),
});

export const storedPlan = z.looseObject({
  placementId: z.string(),
  createdAt: timestamp,
  complete: z.boolean(),
  modules: z.array(
    z.looseObject({
      name: z.string(),
      version: z.string(),
      chainPosition: z.number(),
      digest: z.string(),
      nsPerPacket: z.number(),
      costEstimated: z.boolean(),
    }),
  ),
  machines: z.array(machinePlan),
  skipped: z.array(z.looseObject({ systemId: z.string(), hostname: z.string(), reason: z.string() })),
  scoped: z.array(z.unknown()),
  stats: z.looseObject({
    machines: z.number(),
    classes: z.number(),
    solves: z.number(),
    cacheHits: z.number(),
    infeasibleMachines: z.number(),
    seconds: z.number(),
  }),
});

export const submitted = z.object({ id: z.string(), status: placementStatus, created: z.boolean() });
export const dryRun = z.object({ dryRun: z.literal(true), plan: storedPlan });

export const machineRecord = z.looseObject({
  systemId: z.string(),
  hostname: z.string(),
  wave: z.int(),
  state: z
    .string()
    .describe(
      'pending, flashing, loading, verifying, committed, rolling-back, rolled-back, failed, cancelled (and unknown while reconciled)',
    ),
  generation: z.int(),
  reason: z.string().nullable(),
  code: z
    .enum(ROLLOUT_FAILURE_CODES)
    .nullable()
    .optional()
    .describe('the kind of failure behind `reason` (rolled back, failed, cancelled, unknown): read this, not the message'),
  updatedAt: timestamp,
});

export const placementView = placementRecord.extend({
  control: z.enum(['run', 'pause', 'cancel', 'rollback']).nullable(),
  plan: z.object({ complete: z.boolean(), machines: z.int(), infeasibleMachines: z.int(), skipped: z.int() }).nullable(),
  rollout: z
    .object({
      waves: z.array(z.object({ index: z.int(), machines: z.int() })),
      progress: z.number().min(0).max(100),
      counts: z.record(z.string(), z.int()),
      machines: z.array(machineRecord),
    })
    .nullable(),
});

export const placementList = listOf(placementRecord);
export const controlAccepted = z.object({ id: z.string(), control: z.enum(['run', 'pause', 'cancel', 'rollback']) });
