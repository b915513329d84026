import type { DesiredMachine } from './machine.desired';
import { chainKey, layoutFrom, layoutOf, partsOf } from './machine.layout';
import { mover } from './machine.mover';
import { rollBackMachine } from './machine.rollback';
import type { AgentPort, RunbookDeps } from './machine.runbook';
import type { MachineRecord } from './machine.state';
import type { AgentFacts } from './reconcile';

/** Makes a verified machine's new chains permanent: the agent drops the old ones. */
export async function commitMachine(
  rec: MachineRecord,
  want: DesiredMachine,
  deps: Pick<RunbookDeps, 'agent' | 'save' | 'onStep'>,
): Promise<MachineRecord> {
  const { move } = mover(rec, deps);
  // Committing a port does not change which chain runs where, so both reads go out together.
  const [devices, programs] = await Promise.all([layoutOf(deps.agent, want), deps.agent.programs()]);
  // Under the machine's lease, only exactly this placement's chain is committed: anything else on
  // a port (another rollout's programs, a change by hand) is not this placement's to make permanent.
  for (const chain of want.chains) {
    for (const part of partsOf(chain, devices)) {
      const running =
        programs.devices
          .find((d) => d.deviceId === chain.deviceId)
          ?.ports.find((p) => p.port === part.port)
          ?.current?.modules.map((m) => `${m.name}@${m.digest}`) ?? [];
      const expected = part.modules.map((m) => `${m.name}@${m.digest}`);
      if (running.join() !== expected.join()) {
        return rollBackMachine(rec, want, deps, {
          code: 'commit',
          message: `commit refused: ${chain.deviceId} port ${part.port} runs [${running.join(', ')}], this placement's chain is [${expected.join(', ')}]`,
        });
      }
    }
  }
  const used = new Set<string>();
  // Ports are committed one device at a time, devices at once.
  await Promise.all(
    [...new Set(want.chains.map((c) => c.deviceId))].map(async (deviceId) => {
      for (const chain of want.chains.filter((c) => c.deviceId === deviceId)) {
        for (const part of partsOf(chain, devices)) {
          used.add(`${chain.deviceId}|${part.port}`);
          await deps.agent.commit(chain.deviceId, part.port);
        }
      }
    }),
  );
  // A module that moved leaves its old copy behind: once the new place is committed, ports that
  // run only this placement's modules but are not in its layout are detached. Anything else
  // there (other modules, programs ioplane did not load) is left alone.
  const names = new Set(want.chains.flatMap((c) => c.modules.map((m) => m.name)));
  for (const d of programs.devices) {
    for (const p of d.ports) {
      if (!p.current || used.has(`${d.deviceId}|${p.port}`)) continue;
      if (p.current.modules.length && p.current.modules.every((m) => names.has(m.name))) await deps.agent.detach(d.deviceId, p.port);
    }
  }
  return move('committed', { reason: null, code: null });
}

/** What the agent runs on every port the plan puts a chain on, for the reconciler's decision. */
export async function agentFacts(agent: AgentPort, want: DesiredMachine): Promise<AgentFacts> {
  const [inv, live] = await Promise.all([agent.inventory(), agent.programs()]);
  const devices = layoutFrom(inv, want);
  const firmware = (id: string) => {
    const d = inv.devices.find((x) => x.device.id === id);
    return d && d.driver !== null ? d.firmware : null;
  };
  return {
    flashed: want.flashes.filter((f) => firmware(f.deviceId)?.profileId === f.profileId).map((f) => f.deviceId),
    updating: want.flashes.filter((f) => firmware(f.deviceId)?.updating).map((f) => f.deviceId),
    ports: want.chains.flatMap((chain) =>
      partsOf(chain, devices).map((part) => {
        const cur = live.devices.find((d) => d.deviceId === chain.deviceId)?.ports.find((p) => p.port === part.port)?.current ?? null;
        return {
          chain: chainKey(chain),
          runsNew: !!cur && cur.modules.map((m) => m.digest).join() === part.modules.map((m) => m.digest).join(),
          uncommitted: !!cur && cur.committed === false,
        };
      }),
    ),
  };
}
