import type { DesiredMachine } from './machine.desired';
import { chainKey, layoutOf, partsOf } from './machine.layout';
import { mover } from './machine.mover';
import type { Failure, RunbookDeps } from './machine.runbook';
import type { MachineRecord } from './machine.state';
import { failureCode } from './rollout.failure';

/** Said of a rollback whose agent did not answer; a later pass replaces it rather than adding another. */
const UNCONFIRMED = /; rollback not confirmed: [^]*$/;

/** Restores what the machine ran before: the previous chain on every port touched, the previous firmware slot. */
export async function rollBackMachine(
  rec: MachineRecord,
  want: DesiredMachine,
  deps: Pick<RunbookDeps, 'agent' | 'save' | 'onStep'>,
  failure: Failure,
): Promise<MachineRecord> {
  const { move, current } = mover(rec, deps);
  const reason = failure.message.replace(UNCONFIRMED, '');
  try {
    await move('rolling-back', { reason, code: failure.code });
    // Only ports that run what this rollout loaded are touched: anything else there is not ours to undo.
    const [devices, live] = await Promise.all([layoutOf(deps.agent, want), deps.agent.programs()]);
    for (const chain of want.chains.filter((c) => rec.loaded.includes(chainKey(c)) || rec.state === 'loading')) {
      for (const part of partsOf(chain, devices)) {
        const running = live.devices.find((x) => x.deviceId === chain.deviceId)?.ports.find((p) => p.port === part.port)?.current;
        if (!running || running.modules.map((m) => m.digest).join() !== part.modules.map((m) => m.digest).join()) continue;
        await deps.agent.rollback(chain.deviceId, { port: part.port, scope: 'program' }).catch(async (e: { code?: string }) => {
          // No previous chain: the port ran nothing before this rollout, so restoring it means detaching.
          if (e.code !== 'nothing_to_roll_back') throw e;
          await deps.agent.detach(chain.deviceId, part.port);
        });
      }
    }
    for (const f of want.flashes.filter((x) => rec.flashed.includes(x.deviceId)))
      await deps.agent.rollback(f.deviceId, { scope: 'firmware' });
    return await move('rolled-back', { reason, verifiedAt: null });
  } catch (e) {
    // The agent did not answer (it died or hangs): what it runs now is not known, so the machine is
    // neither failed nor restored. It stays rolling-back, which the reconciler finishes from what
    // the agent reports once it answers; `failed` would leave the new chain running for good.
    const code = failureCode(e, 'rolling-back');
    if (code === 'agent-unreachable' || code === 'agent-timeout')
      return move('rolling-back', { reason: `${reason}; rollback not confirmed: ${(e as Error).message}` }).catch(() => current());
    return move('failed', { reason: `${reason}; rollback failed: ${(e as Error).message}` }).catch(() => current());
  }
}
