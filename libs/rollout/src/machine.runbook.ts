import type { AgentClient } from '@ioplane/agent-api';
import type { DesiredMachine } from './machine.desired';
import { flashStep } from './machine.flash';
import { Inventory, layoutFrom } from './machine.layout';
import { loadStep } from './machine.load';
import { mover, Move, settled } from './machine.mover';
import { rollBackMachine } from './machine.rollback';
import type { MachineRecord, MachineState } from './machine.state';
import { verify, verifyReads } from './machine.verify';
import { failureOf, RolloutFailure, type RolloutFailureCode } from './rollout.failure';
import { StoreUnavailable } from './store.retry';

// The steps live beside the runbook, one file each; these are part of its public face.
export { commitMachine, agentFacts } from './machine.commit';
export { rollBackMachine } from './machine.rollback';
export { probeStop } from './machine.verify';
export { chainKey } from './machine.layout';

/**
 * What the runbook needs of a host agent: these calls of the HTTP AgentClient, typed by the agent
 * API's schemas (`@ioplane/agent-api`), so a change to the contract shows up here at compile time.
 */
export type AgentPort = Pick<
  AgentClient,
  'inventory' | 'programs' | 'flash' | 'load' | 'commit' | 'detach' | 'rollback' | 'runVectors' | 'counters' | 'probe'
>;

export interface FirmwareImage {
  profileId: string;
  version: string;
  digest: string;
  bytes: Buffer;
}

export type Control = 'run' | 'pause' | 'cancel' | 'rollback';

export interface RunbookDeps {
  agent: AgentPort;
  /** ed25519 signature (base64) over a sha256 hex digest, by the controller's key. */
  sign(digest: string): string;
  /** Durable write (compare-and-swap); throws when another worker owns the machine now. */
  save(rec: MachineRecord): Promise<MachineRecord>;
  control(): Promise<Control>;
  firmwareImage(profileId: string): FirmwareImage;
  /** Time the probe traffic gets to move the counters. */
  probeMs?: number;
  sleep?(ms: number): Promise<void>;
  signal?: AbortSignal;
  onStep?(state: MachineState, detail: string): void;
  /**
   * The operator's word and the agent's inventory, read when the job started (alongside its
   * record): the first step uses them instead of reading them again. Not for commit or rollback.
   */
  started?: { control: Promise<Control>; inventory: Promise<Inventory> };
}

export class RolloutStop extends RolloutFailure {
  constructor(readonly control: Control) {
    super('operator', `rollout ${control === 'pause' ? 'paused' : control === 'cancel' ? 'cancelled' : 'rolled back'} by the operator`);
  }
}

/** Why a machine is rolled back: the code metrics and the API read, the message people read. */
export interface Failure {
  code: RolloutFailureCode;
  message: string;
}

/** What a step of runMachine works with: the machine's wish, the deps, and the record's writer. */
export interface StepContext {
  want: DesiredMachine;
  deps: RunbookDeps;
  move: Move;
  note(patch: Partial<MachineRecord>, detail: string): void;
  current(): MachineRecord;
  /** Reads the operator's word with the step's first read; throws RolloutStop unless it is `run`. */
  beforeStep<T>(read: Promise<T>): Promise<T>;
  inventory(): Promise<Inventory>;
}

/**
 * Takes one machine from its record's state through flash, load and health check, leaving the
 * old chain pinned on the agent: the wave's verdict commits it or rolls it back (commitMachine,
 * rollBackMachine). Every step checks what the agent already runs first, so a resumed job
 * (BullMQ is at-least-once) continues instead of repeating: an active flash is not written again.
 * A failing step rolls the machine back at once.
 */
export async function runMachine(start: MachineRecord, want: DesiredMachine, deps: RunbookDeps): Promise<MachineRecord> {
  const { move, note, current } = mover(start, deps);
  let started = deps.started;
  const inventory = (): Promise<Inventory> => started?.inventory ?? deps.agent.inventory();
  // The operator's word is read once before each step, alongside the agent's facts that step needs.
  const beforeStep = async <T>(read: Promise<T>): Promise<T> => {
    const control = started?.control ?? deps.control();
    started = undefined;
    const [c, value] = await Promise.all([control, read]);
    if (c !== 'run') throw new RolloutStop(c);
    return value;
  };
  const step: StepContext = { want, deps, move, note, current, beforeStep, inventory };
  try {
    let devices = await flashStep(step);
    // Read after flashing: another firmware flavour offers other slots.
    const layout = async () => (devices ??= layoutFrom(await inventory(), want));
    await loadStep(step, layout);

    // The health check starts with reads only (the operator's word, what the agent runs, counters
    // of devices that run no vectors), so they travel with the write of its state; vectors and
    // probes, which exercise the programs, wait for that write.
    const layoutForVerify = await layout();
    const reads = verifyReads(want, layoutForVerify, deps);
    const [c] = await settled(deps.control(), move('verifying'));
    if (c !== 'run') throw new RolloutStop(c);
    const probe = await verify(want, layoutForVerify, deps, reads);
    return await move('verifying', { verifiedAt: new Date().toISOString(), reason: null, code: null, probe }, 'health check passed');
  } catch (e) {
    if (e instanceof RolloutStop && e.control === 'pause') throw e;
    // Redis failed, not the step: the job fails and is run again, resuming from the record.
    if (e instanceof StoreUnavailable) throw e;
    const failure = failureOf(e, current().state);
    // The agent did not answer a change (silent past its deadline, or its connection dropped: it
    // died): it may have applied it or not. Neither done nor rolled back blind, which would fail
    // against a dead agent and leave the change in place: the reconciler asks the agent once it
    // answers and resolves it.
    if (
      (failure.code === 'agent-timeout' || failure.code === 'agent-unreachable') &&
      (current().state === 'flashing' || current().state === 'loading')
    ) {
      return move('unknown', { reason: `outcome unknown: ${failure.message}`, code: failure.code });
    }
    if (current().state === 'pending' && e instanceof RolloutStop)
      return move('cancelled', { reason: failure.message, code: failure.code });
    return rollBackMachine(current(), want, deps, failure);
  }
}
