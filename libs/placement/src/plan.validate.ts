import { EXCLUSIVE_HOOKS, Hook, HOOK_POSITION, hookOf as domainHookOf, Target } from '@ioplane/domain';
import { emptyUsage, hostExtraNs, HOST_KERNEL_FLAVOUR, latencyOf, usageOf } from './cost.model';
import {
  DeviceFlavour,
  Hop,
  HOST_GENERIC_SLOTS,
  HOST_VERDICT_KEY,
  MachinePlan,
  PlacementDevice,
  PlacementMachine,
  PlacementModule,
  RefusalRule,
} from './placement.model';

/**
 * The hook positions as a local binding: an imported one is read through a getter on every use
 * (CommonJS re-exports), and these are read for every option of every machine.
 */
const POSITION = HOOK_POSITION;
const hookOf = domainHookOf;
const EXCLUSIVE = EXCLUSIVE_HOOKS;

export type ViolationRule =
  RefusalRule | 'split_chain' | 'no_traffic' | 'position' | 'target' | 'verifier' | 'latency' | 'unexplained' | 'partial' | 'unknown';

export interface PlanViolation {
  module?: string;
  deviceId?: string;
  interface?: string;
  /** The rule broken (the kind of constraint). */
  constraint: ViolationRule | string;
  message: string;
}

const TOL = 1e-9;

function exclusivePair(x: Hook, y: Hook): boolean {
  for (const [a, b] of EXCLUSIVE) if ((a === x && b === y) || (b === x && a === y)) return true;
  return false;
}

/** A module list in chain order, by name, and each name's place in it. */
interface ChainView {
  chain: PlacementModule[];
  byName: Map<string, PlacementModule>;
  /** A module's place in the chain (the first, should two share a name). */
  rank: Map<string, number>;
}

/**
 * A fleet's machines are checked against a few module lists (one array each, never changed once
 * planned): each is put in chain order once, not for every machine.
 */
const chains = new WeakMap<readonly PlacementModule[], ChainView>();

function chainOf(modules: readonly PlacementModule[]): ChainView {
  let v = chains.get(modules);
  if (v && v.chain.length === modules.length && v.chain.every((m) => modules.includes(m))) return v;
  const chain = [...modules].sort((a, b) => a.chainPosition - b.chainPosition || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const rank = new Map<string, number>();
  chain.forEach((m, i) => rank.has(m.name) || rank.set(m.name, i));
  v = { chain, byName: new Map(chain.map((m) => [m.name, m])), rank };
  chains.set(modules, v);
  return v;
}

/** Reused by every hop checked: usageOf overwrites it and only a few of its numbers are kept. */
const hopUsage = emptyUsage();
const hopTraffic = { pps: 0, meanPacketBytes: 0 };

/**
 * Checks a machine plan against the raw machine (its cards and their interfaces, profiles as
 * flavours, agent-reported slots, ingress ports and their traffic) and the modules, with no use
 * of any solver's structures: every port that carries traffic runs the whole chain, in chain
 * order, on hooks of its own path at non-decreasing positions; no hop sits on a port without
 * traffic; native and generic never share a netdev; no hook holds more modules than its slots;
 * verdicts, pins, latency budgets, one firmware flavour per card, and every shared capacity at
 * the machine's real traffic. Empty means valid; an infeasible plan is valid when it places
 * nothing and names why.
 */
export function validatePlan(machine: PlacementMachine, modules: readonly PlacementModule[], plan: MachinePlan): PlanViolation[] {
  const out: PlanViolation[] = [];
  const { chain, byName, rank } = chainOf(modules);
  if (!plan.feasible) {
    if ((plan.paths ?? []).some((p) => p.hops.length > 0)) out.push({ constraint: 'partial', message: 'infeasible plan carries hops' });
    if (plan.infeasible.length === 0) out.push({ constraint: 'unexplained', message: 'infeasible plan names no blocking constraint' });
    return out;
  }
  const cardOf = (iface: string): { device: PlacementDevice; port: number } | null => {
    for (const d of machine.devices) {
      const i = d.interfaces?.indexOf(iface) ?? -1;
      if (i >= 0) return { device: d, port: i };
    }
    return null;
  };
  // Entering traffic per ingress interface, as the request and telemetry give it.
  const entering = new Map<string, number>();
  machine.ports.forEach((p) => entering.set(p.interface, p.traffic?.pps ?? chain[0]?.traffic.pps ?? 0));
  const pathOf = new Map<string, MachinePlan['paths'][number]>();
  for (const path of plan.paths ?? []) {
    const iface = path.ingress.interface;
    if (!((entering.get(iface) ?? 0) > 0)) {
      out.push({
        interface: iface,
        constraint: 'no_traffic',
        message: `${path.hops.length} hop(s) on ${iface}, which is not an ingress port with traffic`,
      });
      continue;
    }
    if (pathOf.has(iface)) out.push({ interface: iface, constraint: 'split_chain', message: `two paths for ${iface}` });
    pathOf.set(iface, path);
  }
  for (const [iface, pps] of entering) {
    if (pps > 0 && !pathOf.has(iface))
      out.push({
        interface: iface,
        constraint: 'split_chain',
        message: `ingress port ${iface} carries traffic but no path runs the chain on it`,
      });
  }

  const flavourOfCard = new Map<string, DeviceFlavour>();
  const chosenFlavour = (d: PlacementDevice): DeviceFlavour | undefined => {
    const id = plan.flavourSwitches[d.id] ?? d.flavours[0]?.profileId;
    return d.flavours.find((f) => f.profileId === id);
  };
  type Acc = { instructions: number; mapMemoryBytes: number; flowRules: number; throughput: number; arm: number; flavour: DeviceFlavour };
  const acc = new Map<string, Acc>();
  let hostCores = 0;

  for (const [iface, path] of pathOf) {
    const port = machine.ports.find((p) => p.interface === iface)!;
    const owner = cardOf(iface);
    // The chain, module by module, on this port: each exactly once, in chain order.
    const names = path.hops.map((h) => h.module);
    const times = new Map<string, number>();
    for (const n of names) times.set(n, (times.get(n) ?? 0) + 1);
    for (const m of chain) {
      const k = times.get(m.name) ?? 0;
      if (k !== 1)
        out.push({
          module: m.name,
          interface: iface,
          constraint: 'split_chain',
          message: `${m.name} runs ${k} times on ${iface}'s path; the whole chain must run once on every ingress port`,
        });
    }
    for (const n of names)
      if (!byName.has(n))
        out.push({ module: n, interface: iface, constraint: 'unknown', message: `hop for ${n}, which the placement does not ask for` });
    const ranks = path.hops.map((h) => rank.get(h.module) ?? -1).filter((r) => r >= 0);
    if (ranks.some((r, i) => i > 0 && r < ranks[i - 1]))
      out.push({ interface: iface, constraint: 'order', message: `hops on ${iface} are not in chain order (${names.join(' -> ')})` });

    const perHook = new Map<Hook, number>();
    let upstream = port.traffic?.pps ?? chain[0]?.traffic.pps ?? 0;
    let lastPosition = -1;
    let lastHook: Hook | null = null;
    // A violation at a hop (made only when one is found: most hops of most plans have none).
    const at = (h: Hop, constraint: ViolationRule, message: string): PlanViolation => ({
      module: h.module,
      deviceId: h.deviceId,
      interface: iface,
      constraint,
      message,
    });
    path.hops.forEach((h, i) => {
      const m = byName.get(h.module);
      // Rates this hop really sees: what entered, less what earlier modules stopped, capped by what it is declared or observed to get.
      const observed = port.moduleTraffic?.[h.module] ?? machine.traffic?.[h.module];
      const pps = i === 0 ? (observed?.pps ?? upstream) : Math.min(observed?.pps ?? m?.traffic.pps ?? Infinity, upstream);
      upstream = pps * Math.min(1, Math.max(0, m?.passRatio ?? 1));
      if (POSITION[h.hook] !== h.position)
        out.push(at(h, 'position', `${h.hook} is at position ${POSITION[h.hook]}, the hop says ${h.position}`));
      if (POSITION[h.hook] < lastPosition)
        out.push(at(h, 'order', `${h.module} at ${h.hook} comes after ${lastHook} on ${iface}: packets never go back`));
      if (lastHook && lastHook !== h.hook && exclusivePair(lastHook, h.hook)) {
        out.push(at(h, 'exclusivity', `${lastHook} and ${h.hook} both hold modules on ${iface}; one netdev takes only one of them`));
      }
      lastPosition = Math.max(lastPosition, POSITION[h.hook]);
      lastHook = h.hook;
      perHook.set(h.hook, (perHook.get(h.hook) ?? 0) + 1);
      if (!m) return;
      // The hop must be a position of this port's own path.
      if (!owner || owner.device.id !== h.deviceId) {
        out.push(at(h, 'position', `${h.deviceId} does not own ${iface}: a module on another port's path never sees this port's traffic`));
        return;
      }
      if (h.port !== owner.port)
        out.push(at(h, 'position', `${iface} is port ${owner.port} of ${owner.device.id}, the hop says ${h.port}`));
      const dpuHook = h.hook === 'dpu-flow' || h.hook === 'dpu-xdp';
      const wantIface = dpuHook ? `p${owner.port}` : iface;
      if (h.interface !== wantIface)
        out.push(at(h, 'position', `${h.hook} of ${iface}'s path attaches to ${wantIface}, not ${h.interface}`));
      let flavour: DeviceFlavour | undefined;
      if (h.target === 'host-xdp-generic') {
        flavour = HOST_KERNEL_FLAVOUR;
      } else {
        flavour = chosenFlavour(owner.device);
        const prev = flavourOfCard.get(owner.device.id);
        if (flavour && prev && prev !== flavour)
          out.push(at(h, 'firmware', `${owner.device.id} needs both ${prev.profileId} and ${flavour.profileId}`));
        if (flavour) flavourOfCard.set(owner.device.id, flavour);
        if (!flavour || !flavour.targets.includes(h.target) || hookOf(owner.device.kind, h.target) !== h.hook) {
          out.push(
            at(h, 'target', `${h.target} at ${h.hook} is not offered by ${owner.device.id} running ${flavour?.profileId ?? 'no profile'}`),
          );
          return;
        }
      }
      const verdict = m.verdicts[flavour.profileId] ?? (h.target.startsWith('host-') ? m.verdicts[HOST_VERDICT_KEY] : undefined);
      if (!verdict?.acceptedTargets.includes(h.target))
        out.push(at(h, 'verifier', `${h.target} not accepted by the verifier for ${flavour.profileId}`));
      if (m.pin !== undefined && m.pin !== h.target && m.pin !== h.deviceId) out.push(at(h, 'pin', `pinned to ${m.pin}`));
      if (latencyOf(flavour, h.target) > m.latencyBudgetUs + TOL)
        out.push(at(h, 'latency', `${h.hook} adds ${latencyOf(flavour, h.target)} us, over the ${m.latencyBudgetUs} us budget`));
      const extra = hostExtraNs(owner.device.flavours[0] ?? null, h.target as Target, m.passRatio ?? 1, i === path.hops.length - 1);
      hopTraffic.pps = pps;
      const u = usageOf(m, hopTraffic, flavour, h.target, hopUsage, extra);
      hostCores += u.hostCores;
      if (h.target === 'host-xdp-generic') return;
      const a = acc.get(owner.device.id) ?? { instructions: 0, mapMemoryBytes: 0, flowRules: 0, throughput: 0, arm: 0, flavour };
      a.instructions += u.instructions;
      a.mapMemoryBytes += u.mapMemoryBytes;
      a.flowRules += u.flowRules;
      a.throughput += u.throughput;
      a.arm += u.arm;
      acc.set(owner.device.id, a);
    });
    // Today's agents load one chain per device port: the card's hardware hooks of a port hold one chain (host XDP is loaded apart).
    const cardHooks = [...perHook.keys()].filter((h) => h !== 'xdp-generic' && h !== 'xdp-native');
    if (machine.oneChainPerPort && cardHooks.length > 1) {
      out.push({
        interface: iface,
        constraint: 'exclusivity',
        message: `${cardHooks.join(' and ')} both hold modules on ${iface}, but the agent loads one chain per device port`,
      });
    }
    for (const [hook, count] of perHook) {
      const slots = slotsOf(machine, owner?.device ?? null, hook, chosenFlavour);
      if (count > slots)
        out.push({ interface: iface, constraint: 'slots', message: `${count} modules on ${hook} of ${iface}, which has ${slots} slot(s)` });
    }
  }
  for (const [id, a] of acc) {
    const f = a.flavour;
    const caps: [keyof Omit<Acc, 'flavour'>, number][] = [
      ['instructions', f.maxInstructions],
      ['mapMemoryBytes', f.mapMemoryBytes],
      ['flowRules', f.flowRules],
      ['throughput', 1],
      ['arm', 1],
    ];
    for (const [k, cap] of caps) {
      if (a[k] > cap * (1 + 1e-6) + TOL)
        out.push({ deviceId: id, constraint: 'capacity', message: `${k} ${a[k]} over capacity ${cap} on ${id}` });
    }
  }
  if (hostCores > machine.hostCoreBudget * (1 + 1e-6) + TOL)
    out.push({ constraint: 'capacity', message: `${hostCores} host cores over the budget ${machine.hostCoreBudget}` });
  return out;
}

/** Slots of a hook from the raw facts: the agent's report for the firmware a card runs now, else its profile. */
function slotsOf(
  machine: PlacementMachine,
  device: PlacementDevice | null,
  hook: Hook,
  chosen: (d: PlacementDevice) => DeviceFlavour | undefined,
): number {
  if (hook === 'xdp-generic') return machine.hookSlots?.host?.['xdp-generic'] ?? HOST_GENERIC_SLOTS;
  if (!device) return 0;
  const f = chosen(device);
  if (!f) return 0;
  if (hook === 'dpu-flow' || hook === 'nic-flow')
    return (f === device.flavours[0] ? machine.hookSlots?.[device.id]?.[hook] : undefined) ?? Infinity;
  const profile = hook === 'nic-xdp-offload' ? Math.min(1, f.programSlotsPerPort) : f.programSlotsPerPort;
  const reported = f === device.flavours[0] ? machine.hookSlots?.[device.id]?.[hook] : undefined;
  // Driver XDP is chained by the host kernel: what the agent found it allows beats the profile's estimate.
  if (hook === 'xdp-native' && reported !== undefined) return reported;
  return reported === undefined ? profile : Math.min(profile, reported);
}
