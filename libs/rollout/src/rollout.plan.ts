/** How a placement reaches its machines: a canary, then cumulative shares of the rest. */
export interface RolloutPolicy {
  canary: number;
  /** Cumulative percent of all machines done after each wave; the last is 100. */
  waves: number[];
  maxUnavailable: number;
  failureThreshold: number;
}

export interface Wave {
  index: number;
  machines: string[];
}

export interface RolloutPlan {
  placementId: string;
  waves: Wave[];
  policy: RolloutPolicy;
}

/**
 * Splits machines into waves: the canary first, then each cumulative share, never an empty wave.
 * The order of `machines` is kept, so the caller decides who goes first (stable, e.g. by hostname).
 */
export function planWaves(placementId: string, machines: string[], policy: RolloutPolicy): RolloutPlan {
  const waves: Wave[] = [];
  let done = 0;
  const canary = Math.min(policy.canary, machines.length);
  if (canary > 0) {
    waves.push({ index: 0, machines: machines.slice(0, canary) });
    done = canary;
  }
  const shares = [...policy.waves.filter((p) => p > 0 && p < 100), 100].sort((a, b) => a - b);
  for (const pct of shares) {
    const upTo = Math.max(done, Math.min(machines.length, Math.ceil((machines.length * pct) / 100)));
    if (upTo > done) {
      waves.push({ index: waves.length, machines: machines.slice(done, upTo) });
      done = upTo;
    }
  }
  return { placementId, waves, policy };
}

/** A wave whose share of failed machines passes the threshold halts the rollout. */
export function waveVerdict(states: MachineOutcome[], threshold: number): { failed: number; total: number; halt: boolean } {
  const total = states.length;
  const failed = states.filter((s) => s === 'rolled-back' || s === 'failed').length;
  return { failed, total, halt: total > 0 && failed / total > threshold };
}

export type MachineOutcome = 'committed' | 'rolled-back' | 'failed' | 'cancelled';
