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
}

export type Resolution =
  /** Terminal already, or its job still runs it (or its wave will commit it): nothing to do. */
  | { action: 'none' | 'wait' }
  /** The agent runs the new chain committed: record committed. */
  | { action: 'record-committed' }
  /** Something of this rollout may run: restore the old chain (and firmware) on these. */
  | { action: 'restore'; loaded: string[] }
  /** Nothing of this rollout runs: the old chain is in place, record rolled-back. */
  | { action: 'record-restored' };

/**
 * Decides how to resolve a machine whose outcome is not known: its record says `unknown`, or an
 * in-flight state whose job is gone. Committed-new only when the agent runs the new chain on every
 * port with no previous chain held (the commit reached the agent); anything less never passed a
 * commit, so the old chain is restored. A load that is uncommitted and runs our digests is this
 * rollout's (its machine was held by it), so it is rolled back even when its record missed it.
 */
export function resolveMachine(rec: Pick<MachineRecord, 'state' | 'verifiedAt' | 'loaded' | 'flashed'>, facts: AgentFacts, jobAlive: boolean): Resolution {
  if (TERMINAL.has(rec.state)) return { action: 'none' };
  if (rec.state !== 'unknown' && (jobAlive || (rec.state === 'verifying' && rec.verifiedAt))) return { action: 'wait' };
  const ports = facts.ports;
  if (ports.length && ports.every((p) => p.runsNew && !p.uncommitted)) return { action: 'record-committed' };
  const ours = new Set(rec.loaded);
  for (const p of ports) if (p.runsNew && p.uncommitted) ours.add(p.chain);
  if (ours.size || rec.flashed.length) return { action: 'restore', loaded: [...ours] };
  return { action: 'record-restored' };
}
