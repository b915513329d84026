import { z } from 'zod';
import { matchesSelector, type MachineSelector } from '@ioplane/placement';

const name = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must be 1-64 letters, digits, dot, dash or underscore' });

export const REBALANCE_MODES = ['off', 'propose', 'auto'] as const;
export type RebalanceMode = (typeof REBALANCE_MODES)[number];

export const rebalanceSelectorSchema = z.strictObject({
  tags: z.array(name).optional(),
  zones: z.array(name).optional(),
  pools: z.array(name).optional(),
  hostnames: z.array(name).optional(),
});

/**
 * One rule of the policy: the machines it takes and how eagerly they are rebalanced.
 * margin and minGainHce must both be passed (a relative margin alone lets noise on an idle machine
 * through; an absolute one alone ignores how big the machine's bill is).
 */
export const rebalanceRuleSchema = z.strictObject({
  selector: rebalanceSelectorSchema,
  mode: z.enum(REBALANCE_MODES, { error: 'must be off, propose or auto' }),
  /** Gain as a share of the current cost, e.g. 0.2: the best plan must be 20% cheaper. */
  margin: z.number({ error: 'must be a number' }).min(0, { error: 'must be >= 0' }).max(10, { error: 'must be <= 10' }).default(0.2),
  /** Gain in host-core equivalents the move must bring at least. */
  minGainHce: z.number({ error: 'must be a number' }).min(0, { error: 'must be >= 0' }).default(0.05),
  /** Consecutive telemetry windows the gain must hold before a move is proposed (hysteresis). */
  windows: z
    .int({ error: 'must be an integer' })
    .min(1, { error: 'must be at least 1' })
    .max(1000, { error: 'must be at most 1000' })
    .default(3),
  /** Windows during which a moved (or rejected) module is not moved again. */
  cooldownWindows: z
    .int({ error: 'must be an integer' })
    .min(0, { error: 'must be >= 0' })
    .max(100_000, { error: 'must be at most 100000' })
    .default(30),
});
export type RebalanceRule = z.infer<typeof rebalanceRuleSchema>;

/** Rules are read in order: the first whose selector takes a machine decides; none: off. */
export const rebalancePolicySchema = z.strictObject({
  rules: z.array(rebalanceRuleSchema).max(200, { error: 'at most 200 rules' }),
});
export type RebalancePolicy = z.infer<typeof rebalancePolicySchema>;

export const EMPTY_POLICY: RebalancePolicy = { rules: [] };

export interface SelectableMachine {
  hostname: string;
  zone: string;
  pool: string;
  tags: string[];
}

export function ruleFor(policy: RebalancePolicy, m: SelectableMachine): RebalanceRule | null {
  return (
    policy.rules.find((r) =>
      matchesSelector(
        { ...m, systemId: '', hostCores: 0, hostCoreBudget: 0, devices: [], currentPlacement: {} },
        r.selector as MachineSelector,
      ),
    ) ?? null
  );
}

/** Replaces the rule with the same selector, or appends one: what `ioplane rebalance policy` does. */
export function upsertRule(policy: RebalancePolicy, rule: RebalanceRule): RebalancePolicy {
  const key = selectorKey(rule.selector);
  const i = policy.rules.findIndex((r) => selectorKey(r.selector) === key);
  const rules = [...policy.rules];
  if (i >= 0) rules[i] = rule;
  else rules.push(rule);
  return { rules };
}

export function selectorKey(s: MachineSelector): string {
  const part = (k: keyof MachineSelector) => [...(s[k] ?? [])].sort().join(',');
  return `tags=${part('tags')};zones=${part('zones')};pools=${part('pools')};hostnames=${part('hostnames')}`;
}
