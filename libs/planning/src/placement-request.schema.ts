import { z } from 'zod';
import { TARGETS } from '@ioplane/domain';

const name = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must be 1-64 letters, digits, dot, dash or underscore' });
const moduleName = z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, { error: 'must be a module name' });

export const machineSelectorSchema = z.strictObject({
  tags: z.array(name).optional(),
  zones: z.array(name).optional(),
  pools: z.array(name).optional(),
  hostnames: z.array(name).optional(),
});

const traffic = z.strictObject({
  pps: z.number({ error: 'must be a number' }).finite().positive({ error: 'must be > 0' }),
  meanPacketBytes: z
    .int({ error: 'must be an integer' })
    .min(64, { error: 'must be at least 64' })
    .max(9216, { error: 'must be at most 9216' }),
});

/**
 * Where traffic enters each machine: the interfaces that match every given field. Absent: the
 * uplinks (every interface MAAS shows linked to a subnet). A bond stands for its members and a
 * VLAN interface for its parent: traffic enters on physical ports.
 */
export const ingressSelectorSchema = z.strictObject({
  /** Interfaces MAAS shows connected to a subnet (a link with a subnet). */
  uplinks: z.boolean().optional(),
  interfaces: z
    .array(z.string().regex(/^[A-Za-z0-9._:@-]{1,32}$/, { error: 'must be an interface name' }))
    .min(1)
    .optional(),
  fabrics: z.array(name).min(1).optional(),
  vlans: z.array(z.int().min(0).max(4094)).min(1).optional(),
  tags: z.array(name).min(1).optional(),
  /** Traffic entering each selected port; absent: telemetry, else the first module's declared traffic. */
  traffic: traffic.optional(),
});
export type IngressSelector = z.infer<typeof ingressSelectorSchema>;
export const DEFAULT_INGRESS: IngressSelector = { uplinks: true };

export const placementModuleRequestSchema = z.strictObject({
  name: moduleName,
  /** When given, must equal the catalog's version. */
  version: z.string().min(1).optional(),
  traffic: traffic.optional(),
  prefer: z.enum(['auto', 'host', 'nic', 'dpu']).optional(),
  pin: z
    .union([
      z.enum(TARGETS),
      z.string().regex(/^[a-z0-9]+\/[A-Za-z0-9._:-]+$/, { error: 'must be a target or a device id <systemId>/<name>' }),
    ])
    .optional(),
  latencyBudgetUs: z.number().positive().optional(),
  scope: z
    .strictObject({
      replicas: z.int().min(1).optional(),
      totalPps: z.number().positive().optional(),
      maxPerZone: z.int().min(1).optional(),
      selector: machineSelectorSchema.optional(),
    })
    .optional(),
});

export const rolloutPolicySchema = z.strictObject({
  /** Machines in the first wave. */
  canary: z.int().min(0).max(100).default(1),
  /** Cumulative share of machines done after each later wave, in percent; the last is 100. */
  waves: z.array(z.number().min(1).max(100)).min(1).default([25, 50, 100]),
  maxUnavailable: z.int().min(1).default(4),
  /** Share of a wave's machines that may fail before the rollout halts and rolls that wave back. */
  failureThreshold: z.number().min(0).max(1).default(0.2),
});
export type RolloutPolicy = z.infer<typeof rolloutPolicySchema>;

export const placementRequestSchema = z
  .strictObject({
    selector: machineSelectorSchema,
    /** Where traffic enters each machine (default: its uplinks). */
    ingress: ingressSelectorSchema.optional(),
    /** In ingress order: the first module sees a packet first. */
    modules: z.array(placementModuleRequestSchema).min(1, { error: 'must name at least one module' }),
    policy: z
      .strictObject({
        /** Host cores XDP may use per machine. */
        hostCoreBudget: z.number().positive().default(4),
        rollout: rolloutPolicySchema.default(rolloutPolicySchema.parse({})),
        /**
         * Roll out to the machines that can take the placement and report the others with their
         * blocking constraint. Off by default: an incomplete plan then stops before any change.
         */
        allowPartial: z.boolean().default(false),
        /**
         * Ask MAAS to deploy the selector's machines that are not Deployed yet (Ready, Allocated or
         * Failed deployment) with cloud-init that installs the agent; each follows this placement
         * once its agent answers. `true` retries a failed deployment twice; `{ retries }` says how often.
         */
        deploy: z.union([z.boolean(), z.strictObject({ retries: z.int().min(0).max(10).default(2) })]).default(false),
        /**
         * Accept health checks that could not run (test vectors or probe traffic on an agent without a
         * kernel) instead of failing the machine. Off by default: a check that did not run is a failed check.
         */
        acceptNotRun: z.boolean().default(false),
      })
      .default({ hostCoreBudget: 4, rollout: rolloutPolicySchema.parse({}), allowPartial: false, deploy: false, acceptNotRun: false }),
    dryRun: z.boolean().default(false),
    reason: z.enum(['operator', 'rebalance', 'provisioning']).default('operator'),
  })
  .superRefine((r, ctx) => {
    const seen = new Set<string>();
    r.modules.forEach((m, i) => {
      if (seen.has(m.name)) ctx.addIssue({ code: 'custom', message: `module ${m.name} is listed twice`, path: ['modules', i, 'name'] });
      seen.add(m.name);
    });
  });
export type PlacementRequest = z.infer<typeof placementRequestSchema>;
export type PlacementModuleRequest = z.infer<typeof placementModuleRequestSchema>;
