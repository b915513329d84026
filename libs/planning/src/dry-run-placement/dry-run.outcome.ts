import type { PlanViolation } from '@ioplane/placement';
import { PlacementInputError, PlanValidationError } from '../placement.planner';
import type { StoredPlan } from '../placement.plan';

/**
 * What a dry-run job returns to the API awaiting it: the plan, or the refusal the API answers
 * with. Plain JSON (it crosses Redis), so the errors travel as their code and fields and are made
 * again on the API's side, where they map to the same HTTP answers as when the API solved inline.
 */
export type DryRunOutcome =
  | { ok: true; plan: StoredPlan }
  | { ok: false; error: { code: 'not_found' | 'unprocessable'; field: string; message: string } }
  | { ok: false; error: { code: 'invalid_plan'; violations: Array<PlanViolation & { systemId: string }> } };

export function refusalOf(e: unknown): DryRunOutcome | null {
  if (e instanceof PlacementInputError) return { ok: false, error: { code: e.code, field: e.field, message: e.message } };
  if (e instanceof PlanValidationError) return { ok: false, error: { code: e.code, violations: e.violations } };
  return null;
}

/** The plan of an outcome, or its refusal thrown as the error the planner threw in the worker. */
export function planOf(outcome: DryRunOutcome): StoredPlan {
  if (outcome.ok) return outcome.plan;
  const e = outcome.error;
  if (e.code === 'invalid_plan') throw new PlanValidationError(e.violations);
  throw new PlacementInputError(e.code, e.field, e.message);
}
