import type { Target, XdpAction } from '@ioplane/domain';

/** A module as a rollout ships it: the exact bytes, and the vectors that prove it on the device. */
export interface RolloutModule {
  name: string;
  version: string;
  digest: string;
  program: string;
  persistentMaps: string[];
  object: Buffer;
  pps: number;
  /** Vectors that need no seeded map state (a device runs them on an empty copy). */
  vectors: Array<{ name: string; packetHex: string; expectVerdict: XdpAction; expectOutputHex?: string; repeat?: number }>;
}

/** One device's part of a machine's placement: a chain per target, modules in ingress order. */
export interface DesiredChain {
  deviceId: string;
  target: Target;
  modules: RolloutModule[];
}

export interface DesiredMachine {
  systemId: string;
  hostname: string;
  /** Firmware flavour switches: device -> profile to flash. */
  flashes: Array<{ deviceId: string; profileId: string }>;
  chains: DesiredChain[];
}

/** The slice of a plan the rollout needs for one machine. */
export interface PlannedMachine {
  systemId: string;
  hostname: string;
  feasible: boolean;
  placements: Record<string, { module: string; deviceId: string; target: Target; profileId: string | null }>;
  flavourSwitches: Record<string, string>;
}

/** Groups a machine plan into per-device chains, keeping the placement's ingress order. */
export function desiredState(plan: PlannedMachine, order: string[], modules: Map<string, RolloutModule>): DesiredMachine {
  const chains = new Map<string, DesiredChain>();
  for (const name of order) {
    const p = plan.placements[name];
    if (!p) continue;
    const m = modules.get(name);
    if (!m) throw new Error(`module ${name} has no artifact`);
    const key = `${p.deviceId}|${p.target}`;
    const chain = chains.get(key) ?? { deviceId: p.deviceId, target: p.target, modules: [] };
    chain.modules.push(m);
    chains.set(key, chain);
  }
  return {
    systemId: plan.systemId,
    hostname: plan.hostname,
    flashes: Object.entries(plan.flavourSwitches).map(([deviceId, profileId]) => ({ deviceId, profileId })),
    chains: [...chains.values()],
  };
}

/** Splits a chain over a device's ports when one port holds fewer modules than the chain has. */
export function portsFor(chain: DesiredChain, slotsPerPort: number, ports: number): Array<{ port: number; modules: RolloutModule[] }> {
  const per = Math.max(1, slotsPerPort);
  const out: Array<{ port: number; modules: RolloutModule[] }> = [];
  for (let i = 0; i < chain.modules.length; i += per) out.push({ port: out.length, modules: chain.modules.slice(i, i + per) });
  if (out.length > Math.max(1, ports)) {
    throw new Error(`${chain.deviceId}: ${chain.modules.length} modules need ${out.length} ports of ${per} slot(s), the device has ${ports}`);
  }
  return out;
}
