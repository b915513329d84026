import { MachineRecord, TERMINAL } from './machine.state';

/** What a machine's agent reports, per port the plan puts a chain on. */
export interface AgentFacts {
  ports: Array<{
    /** The chain key (runbook's chainKey) this port belongs to. */
    chain: string;
    /** The port runs exactly the digests this placement ships there. */
    runsNew: boolean;
    /** The agent still holds a previous chain for the port: a load not committed yet. */
    uncommitted: boolean;
  }>;
  /**
   * Devices the plan switches to another firmware flavour that run it now. The plan only switches
   * devices that did not run the target, and the machine is leased to the rollout since, so these
   * were flashed by it, even when the flash's answer never came back (its agent died or hung).
   */
  flashed?: string[];
  /** Devices whose firmware is being written or activated now: the flash's outcome is not known yet. */
  updating?: string[];
}

export type Resolution =
  /** Terminal already, or its job still runs it (or its wave will commit it): nothing to do. */
  | { action: 'none' | 'wait' }
  /** The agent runs the new chain committed: record committed. */
  | { action: 'record-committed' }
  /** Something of this rollout may run: restore the old chain on these ports and the old firmware on these devices. */
  | { action: 'restore'; loaded: string[]; flashed: string[] }
  /** The agent cannot tell yet (a flash still runs on a card): asked again on the next round. */
  | { action: 'later'; reason: string }
  /** Nothing of this rollout runs: the old chain is in place, record rolled-back. */
  | { action: 'record-restored' };

/**
 * Decides how to resolve a machine whose outcome is not known: its record says `unknown`, or an
 * in-flight state whose job is gone. Committed-new only when the agent runs the new chain on every
 * port with no previous chain held (the commit reached the agent); anything less never passed a
 * commit, so the old chain is restored. A load that is uncommitted and runs our digests is this
 * rollout's (its machine was held by it), so it is rolled back even when its record missed it.
 */
export function resolveMachine(
  rec: Pick<MachineRecord, 'state' | 'verifiedAt' | 'loaded' | 'flashed'>,
  facts: AgentFacts,
  jobAlive: boolean,
): Resolution {
  if (TERMINAL.has(rec.state)) return { action: 'none' };
  if (rec.state !== 'unknown' && (jobAlive || (rec.state === 'verifying' && rec.verifiedAt))) return { action: 'wait' };
  // A flash outlives the call that asked for it (its agent died or hung): its card decides the outcome when done.
  if (facts.updating?.length) return { action: 'later', reason: `a flash is still running on ${facts.updating.join(', ')}` };
  const ports = facts.ports;
  // A rollback left half-done (its job or reconcile pass is gone) is finished, whatever runs now.
  if (ports.length && rec.state !== 'rolling-back' && ports.every((p) => p.runsNew && !p.uncommitted))
    return { action: 'record-committed' };
  const ours = new Set(rec.loaded);
  for (const p of ports) if (p.runsNew && p.uncommitted) ours.add(p.chain);
  const flashed = [...new Set([...rec.flashed, ...(facts.flashed ?? [])])];
  if (ours.size || flashed.length || rec.state === 'rolling-back') return { action: 'restore', loaded: [...ours], flashed };
  return { action: 'record-restored' };
}
