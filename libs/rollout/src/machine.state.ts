import type { RolloutFailureCode } from './rollout.failure';

/**
 * The durable state of one machine in one rollout. Every state is written to Redis before the
 * step it names starts, so a worker that dies mid-step leaves a record another worker resumes from.
 */
export type MachineState =
  | 'pending'
  | 'flashing'
  | 'loading'
  | 'verifying'
  | 'committed'
  | 'rolling-back'
  | 'rolled-back'
  | 'failed'
  | 'cancelled'
  /**
   * The outcome of a change is not known (the agent timed out on it, or its result could not be
   * recorded and the job is gone): never taken for done; the reconciler asks the agent what runs
   * and drives the machine to committed (the new chain) or rolled-back (the old one).
   */
  | 'unknown';

export const TERMINAL: ReadonlySet<MachineState> = new Set(['committed', 'rolled-back', 'failed', 'cancelled']);

const NEXT: Record<MachineState, MachineState[]> = {
  pending: ['flashing', 'loading', 'cancelled', 'rolling-back', 'failed', 'unknown'],
  flashing: ['flashing', 'loading', 'rolling-back', 'failed', 'unknown'],
  loading: ['loading', 'verifying', 'rolling-back', 'failed', 'unknown'],
  verifying: ['verifying', 'committed', 'rolling-back', 'failed', 'unknown'],
  // Resolved from what the agent reports: the new chain committed, or the old one restored.
  unknown: ['unknown', 'committed', 'rolling-back', 'rolled-back'],
  // A committed machine of a halted wave is rolled back to what it ran before.
  committed: ['rolling-back'],
  'rolling-back': ['rolling-back', 'rolled-back', 'failed'],
  'rolled-back': [],
  failed: [],
  cancelled: [],
};

export class StateTransitionError extends Error {
  constructor(
    readonly from: MachineState,
    readonly to: MachineState,
  ) {
    super(`illegal machine state change ${from} -> ${to}`);
  }
}

export function assertTransition(from: MachineState, to: MachineState): void {
  if (!NEXT[from].includes(to)) throw new StateTransitionError(from, to);
}

export interface MachineRecord {
  systemId: string;
  hostname: string;
  wave: number;
  state: MachineState;
  /** Bumped on every write; writers compare it, so two workers never both advance one machine. */
  generation: number;
  /** Devices whose flash finished (digest verified and activated): a resumed job skips them. */
  flashed: string[];
  /** Devices whose chain is loaded. */
  loaded: string[];
  /** Set when the health check passed; the wave's verdict then commits or rolls back. */
  verifiedAt: string | null;
  attempts: number;
  reason: string | null;
  /** The kind of `reason` when the machine failed, was rolled back or cancelled; absent on records written before codes. */
  code?: RolloutFailureCode | null;
  startedAt: string | null;
  updatedAt: string;
  /** What the last passed health check saw: probe packets sent per chain part, counted per hop in packet order. */
  probe?: ProbeReport | null;
}

export interface ProbeReport {
  sent: Array<{ deviceId: string; port: number; interface: string | null; sent: number }>;
  /** `source` as the agent's counters say (`emulated`: modeled, no packet crossed the hop). */
  hops: Array<{ module: string; target: string; deviceId: string; interface: string | null; packets: number; source: string | null }>;
}

export function newMachineRecord(systemId: string, hostname: string, wave: number): MachineRecord {
  return {
    systemId,
    hostname,
    wave,
    state: 'pending',
    generation: 0,
    flashed: [],
    loaded: [],
    verifiedAt: null,
    attempts: 0,
    reason: null,
    code: null,
    startedAt: null,
    updatedAt: new Date().toISOString(),
  };
}
