import type { AgentPort } from './machine.runbook';
import { DesiredChain, DesiredMachine, PortPart, portLayout } from './machine.desired';

/** Which ports of its device each desired chain goes on, from the agent's inventory (slots and ports per device). */
export type Layout = Map<DesiredChain, PortPart[]>;
export type Inventory = Awaited<ReturnType<AgentPort['inventory']>>;
type DeviceFacts = Map<string, { programSlotsPerPort?: number; ports?: number }>;

export function chainKey(c: DesiredChain): string {
  return c.port === undefined ? `${c.deviceId}|${c.target}` : `${c.deviceId}|${c.port}|${c.target}`;
}

export function layoutFrom(inv: Inventory, want: DesiredMachine): Layout {
  // A device the agent has no driver for reports no slots or ports: the layout's defaults apply.
  const facts: DeviceFacts = new Map(inv.devices.map((d) => [d.device.id, d.driver === null ? {} : d]));
  return portLayout(want.chains, (id) => facts.get(id));
}

export function firmwareOf(inv: Inventory, deviceId: string): { profileId: string } | null {
  const d = inv.devices.find((x) => x.device.id === deviceId);
  return d && d.driver !== null ? d.firmware : null;
}

export function partsOf(chain: DesiredChain, layout: Layout): PortPart[] {
  return layout.get(chain) ?? [];
}

export async function layoutOf(agent: AgentPort, want: DesiredMachine): Promise<Layout> {
  return layoutFrom(await agent.inventory(), want);
}
