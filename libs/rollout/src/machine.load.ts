import type { DesiredChain, PortPart } from './machine.desired';
import { chainKey, Layout, partsOf } from './machine.layout';
import type { AgentPort, StepContext } from './machine.runbook';

/**
 * The load step: each desired chain the record does not list as loaded goes onto its ports, as
 * one chain per port (atomically replacing what runs there); the record notes the chains this
 * rollout changed, which are the ones a rollback restores.
 */
export async function loadStep({ want, deps, move, note, current, beforeStep }: StepContext, layout: () => Promise<Layout>): Promise<void> {
  for (const chain of want.chains) {
    if (current().loaded.includes(chainKey(chain))) continue;
    const parts = partsOf(chain, await beforeStep(layout()));
    await move('loading', {}, `${chain.deviceId} ${chain.target}${chain.interface ? ` on ${chain.interface}` : ''}`);
    let changed = false;
    for (const part of parts) {
      const res = await deps.agent.load(
        chain.deviceId,
        {
          target: chain.target,
          port: part.port,
          modules: part.modules.map((m) => ({
            name: m.name,
            version: m.version,
            digest: m.digest,
            signature: deps.sign(m.digest),
            object: m.object.toString('base64'),
            program: m.program,
            persistentMaps: m.persistentMaps,
            pps: m.pps,
            ...(m.matchAction ? { matchAction: m.matchAction } : {}),
          })),
        },
        deps.signal,
      );
      changed ||= res.status !== 'unchanged';
    }
    // A chain the agent already ran is not ours to roll back later, unless it runs uncommitted:
    // a load of this rollout before its job was resumed (the machine is held by this rollout).
    const ours = changed || (await uncommittedOnAgent(deps.agent, chain, parts));
    note(
      ours ? { loaded: [...current().loaded, chainKey(chain)] } : {},
      `${chain.deviceId} ${changed ? 'loaded' : ours ? 'loaded before this job resumed' : 'already running'}`,
    );
  }
}

async function uncommittedOnAgent(agent: AgentPort, chain: DesiredChain, parts: PortPart[]): Promise<boolean> {
  const live = (await agent.programs()).devices.find((d) => d.deviceId === chain.deviceId);
  return parts.some((part) => {
    const cur = live?.ports.find((p) => p.port === part.port)?.current;
    return !!cur && cur.committed === false && cur.modules.map((m) => m.digest).join() === part.modules.map((m) => m.digest).join();
  });
}
