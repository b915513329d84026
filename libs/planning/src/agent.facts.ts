import type { FleetMachine, Hook } from '@ioplane/domain';
import { agentToken, AgentClient } from '@ioplane/agent-api';

/** What a host's agent reports of each device, beyond its profile: what the kernel really allows. */
export type DeviceFacts = Record<string, { programSlotsPerPort: number; ports: number; hookSlots?: Partial<Record<Hook, number>> }>;

export type AgentFactsResult = { ok: true; facts: DeviceFacts } | { ok: false; reason: string };

/** Asks each host's agent for its inventory; the controller derives every host token from one secret. */
export function agentDeviceFacts(tokenSecret: string, timeoutMs = 5_000): (m: FleetMachine) => Promise<AgentFactsResult | null> {
  return async (m) => {
    if (!m.agentUrl) return null;
    try {
      const inv = await new AgentClient(m.agentUrl, agentToken(tokenSecret, m.systemId), { timeoutMs }).inventory();
      const facts: DeviceFacts = {};
      for (const d of inv.devices) {
        if (!('ports' in d)) continue;
        // Agents that report slots per hook (tail-call chains) say so; older ones give one figure per device.
        const perHook = (d as { hookSlots?: Partial<Record<Hook, number>> }).hookSlots;
        facts[d.device.id] = { programSlotsPerPort: d.programSlotsPerPort, ports: d.ports, ...(perHook ? { hookSlots: perHook } : {}) };
      }
      return { ok: true, facts };
    } catch (e) {
      return { ok: false, reason: `agent at ${m.agentUrl} did not answer: ${(e as Error).message}` };
    }
  };
}
