import type { MatchActionForm, Target, XdpAction } from '@ioplane/domain';

/** A module as a rollout ships it: the exact bytes, and the vectors that prove it on the device. */
export interface RolloutModule {
  name: string;
  version: string;
  digest: string;
  program: string;
  persistentMaps: string[];
  object: Buffer;
  pps: number;
  /** The manifest's match-action form: the rules a flow-offload hop installs. */
  matchAction?: MatchActionForm;
  /** Vectors that need no seeded map state (a device runs them on the deployed chain, whose maps are the operator's). */
  vectors: Array<{ name: string; packetHex: string; expectVerdict: XdpAction; expectOutputHex?: string; repeat?: number }>;
}

/**
 * One hook's chain on one port of a device, modules in ingress order. `port` is the device's port
 * the plan puts it on (absent only for plans made before ports existed: then laid out by slots).
 */
export interface DesiredChain {
  deviceId: string;
  target: Target;
  port?: number;
  /** The netdev the hook attaches to, as the plan names it. */
  interface?: string;
  modules: RolloutModule[];
}

export interface DesiredMachine {
  systemId: string;
  hostname: string;
  /** Firmware flavour switches: device -> profile to flash. */
  flashes: Array<{ deviceId: string; profileId: string }>;
  chains: DesiredChain[];
  /** The placement's policy.acceptNotRun: a check that could not run (no kernel) does not fail the machine. */
  acceptNotRun?: boolean;
}

export interface PlannedHop {
  module: string;
  deviceId: string;
  target: Target;
  interface: string;
  port: number;
}

/** The slice of a plan the rollout needs for one machine. */
export interface PlannedMachine {
  systemId: string;
  hostname: string;
  feasible: boolean;
  /** Per ingress port, hops in packet order: what gets loaded. */
  paths?: Array<{ hops: PlannedHop[] }>;
  placements: Record<string, { module: string; deviceId: string; target: Target; profileId: string | null }>;
  flavourSwitches: Record<string, string>;
}

/**
 * Which agent device and port run a hop. The plan names the card that owns the netdev; an agent
 * runs the host XDP of a card with hardware hooks in a device of its own for that card's netdevs
 * (hostXdpDeviceId) says so here.
 */
export type HopExecutor = (hop: PlannedHop) => { deviceId: string; port: number };

/**
 * Groups a machine plan into one chain per (device, port, target): the ordered modules each hook
 * of each port loads. Plans made before ports existed group by (device, target).
 */
export function desiredState(
  plan: PlannedMachine,
  order: string[],
  modules: Map<string, RolloutModule>,
  executor?: HopExecutor,
): DesiredMachine {
  const chains = new Map<string, DesiredChain>();
  const artifact = (name: string) => {
    const m = modules.get(name);
    if (!m) throw new Error(`module ${name} has no artifact`);
    return m;
  };
  if (plan.paths) {
    for (const path of plan.paths) {
      for (const hop of path.hops) {
        const at = executor?.(hop) ?? { deviceId: hop.deviceId, port: hop.port };
        const key = `${at.deviceId}|${at.port}|${hop.target}`;
        const chain = chains.get(key) ?? {
          deviceId: at.deviceId,
          target: hop.target,
          port: at.port,
          interface: hop.interface,
          modules: [],
        };
        chain.modules.push(artifact(hop.module));
        chains.set(key, chain);
      }
    }
    return {
      systemId: plan.systemId,
      hostname: plan.hostname,
      flashes: Object.entries(plan.flavourSwitches).map(([deviceId, profileId]) => ({ deviceId, profileId })),
      chains: [...chains.values()],
    };
  }
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
export function portLayout(
  chains: DesiredChain[],
  facts: (deviceId: string) => { programSlotsPerPort?: number; ports?: number } | undefined,
): Map<DesiredChain, PortPart[]> {
  const next = new Map<string, number>();
  const out = new Map<DesiredChain, PortPart[]>();
  for (const chain of chains) {
    // The plan chose the port: the whole hook's chain goes there (the agent refuses more than its slots).
    if (chain.port !== undefined) {
      out.set(chain, [{ port: chain.port, modules: chain.modules }]);
      continue;
    }
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
