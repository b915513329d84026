import type { RunbookDeps } from './machine.runbook';
import { assertTransition, MachineRecord, MachineState } from './machine.state';

export type Move = (state: MachineState, patch?: Partial<MachineRecord>, detail?: string) => Promise<MachineRecord>;

/** Writes a machine's record through its steps: `move` starts a step (a durable write), `note` records a fact that rides on the next write. */
export function mover(
  start: MachineRecord,
  deps: Pick<RunbookDeps, 'save' | 'onStep'>,
): { move: Move; note(patch: Partial<MachineRecord>, detail: string): void; current: () => MachineRecord } {
  let rec = start;
  const move: Move = async (state, patch = {}, detail = '') => {
    if (state !== rec.state) assertTransition(rec.state, state);
    rec = await deps.save({ ...rec, ...patch, state, startedAt: rec.startedAt ?? new Date().toISOString() });
    deps.onStep?.(state, detail);
    return rec;
  };
  // A fact that starts no step (a flash or load finished) rides on the next state write, which
  // follows at once; a resumed job reconciles with what the agent reports, so nothing repeats.
  const note = (patch: Partial<MachineRecord>, detail: string) => {
    rec = { ...rec, ...patch };
    deps.onStep?.(rec.state, detail);
  };
  return { move, note, current: () => rec };
}

/** Waits for both before throwing the first failure, so a state write is never left in flight. */
export async function settled<A, B>(a: Promise<A>, b: Promise<B>): Promise<[A, B]> {
  const [ra, rb] = await Promise.allSettled([a, b]);
  if (rb.status === 'rejected') throw rb.reason;
  if (ra.status === 'rejected') throw ra.reason;
  return [ra.value, rb.value];
}
