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

export interface PortPart {
  port: number;
  modules: RolloutModule[];
}

/**
 * Lays a machine's chains onto device ports: a port runs one chain of at most `slotsPerPort`
 * modules, so a longer chain, or a second target on the same device, takes the next port.
 * This matches the solver's capacity model (slots per port x ports).
 */
export function portLayout(chains: DesiredChain[], facts: (deviceId: string) => { programSlotsPerPort?: number; ports?: number } | undefined): Map<DesiredChain, PortPart[]> {
  const next = new Map<string, number>();
  const out = new Map<DesiredChain, PortPart[]>();
  for (const chain of chains) {
    const f = facts(chain.deviceId);
    const per = Math.max(1, f?.programSlotsPerPort ?? 1);
    const ports = Math.max(1, f?.ports ?? 1);
    const parts: PortPart[] = [];
    for (let i = 0; i < chain.modules.length; i += per) {
      const port = next.get(chain.deviceId) ?? 0;
      if (port >= ports) throw new Error(`${chain.deviceId}: its ${ports} port(s) of ${per} slot(s) cannot hold every chain placed on it`);
      next.set(chain.deviceId, port + 1);
      parts.push({ port, modules: chain.modules.slice(i, i + per) });
    }
    out.set(chain, parts);
  }
  return out;
}
