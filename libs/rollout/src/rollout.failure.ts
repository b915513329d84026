import { CodedError, errorCode } from '@ioplane/domain';
import type { MachineState } from './machine.state';

/**
 * Why a machine left its rollout without the new chain committed, as a closed set. The record
 * keeps the code beside the message; metrics, the API and the fleet map read the code, so a
 * reworded message changes nothing they count or show by kind.
 */
export const ROLLOUT_FAILURE_CODES = [
  /** The firmware flash did not end with the target flavour active. */
  'flash',
  /** The agent refused or failed the chain's load. */
  'load',
  /** The agent refused an artifact's signature or digest. */
  'signature',
  /** The health check failed: other digests running, vectors failed or not run, probe traffic not counted. */
  'health',
  /** The wave's commit found another chain on a port than this placement's. */
  'commit',
  /** The agent did not answer a call within its deadline. */
  'agent-timeout',
  /** The agent could not be reached (connection refused, host gone). */
  'agent-unreachable',
  /** The machine passed, but its wave halted and was rolled back. */
  'wave-halted',
  /** The operator paused, cancelled or rolled back the placement. */
  'operator',
  /** The outcome was not known, and the agent showed the old chain restored. */
  'outcome-unknown',
  /** Anything else (a bug, an unexpected answer): read the message. */
  'internal',
] as const;
export type RolloutFailureCode = (typeof ROLLOUT_FAILURE_CODES)[number];

export class RolloutFailure extends CodedError<RolloutFailureCode> {}

/** Transport errors that mean the request never reached an agent (Node's and undici's codes). */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const SIGNATURE = new Set(['bad_signature', 'digest_mismatch']);
/** The step a failure in each state belongs to, when the error itself does not say. */
const STEP: Partial<Record<MachineState, RolloutFailureCode>> = { flashing: 'flash', loading: 'load', verifying: 'health' };

/** The code of an error thrown during a machine's step in `state`: the error's own code first, then the step's. */
export function failureCode(e: unknown, state: MachineState): RolloutFailureCode {
  if (e instanceof RolloutFailure) return e.code;
  const code = errorCode(e);
  if (code === 'agent_timeout') return 'agent-timeout';
  if (code && SIGNATURE.has(code)) return 'signature';
  const cause = errorCode((e as { cause?: unknown } | null)?.cause);
  if ((code && UNREACHABLE.has(code)) || (cause && UNREACHABLE.has(cause))) return 'agent-unreachable';
  // An answer from the agent (it has a code) fails the step it was asked for.
  if (code) return STEP[state] ?? 'internal';
  return 'internal';
}

/** A failure as the record keeps it. */
export function failureOf(e: unknown, state: MachineState): { code: RolloutFailureCode; message: string } {
  return { code: failureCode(e, state), message: (e as Error)?.message ?? String(e) };
}
