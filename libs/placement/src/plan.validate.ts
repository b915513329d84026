import { EXCLUSIVE_HOOKS, Hook, HOOK_POSITION, hookOf as domainHookOf, Target } from '@ioplane/domain';
import { emptyUsage, hostExtraNs, HOST_KERNEL_FLAVOUR, latencyOf, usageOf } from './cost.model';
import {
  DeviceFlavour,
  Hop,
  HOST_GENERIC_SLOTS,
  HOST_VERDICT_KEY,
  MachinePlan,
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
  /** Per name: the module (the last, should two share a name) and its place (the first). */
  byName: Map<string, { module: PlacementModule; rank: number }>;
  /** Per chain position, the place of its name (its own, or the first module's of that name). */
  rankAt: Int32Array;
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
  const byName = new Map<string, { module: PlacementModule; rank: number }>();
  chain.forEach((m, i) => byName.set(m.name, { module: m, rank: byName.get(m.name)?.rank ?? i }));
  v = { chain, byName, rankAt: Int32Array.from(chain, (m) => byName.get(m.name)!.rank) };
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
  const { chain, byName, rankAt } = chainOf(modules);
  if (!plan.feasible) {
    if ((plan.paths ?? []).some((p) => p.hops.length > 0)) out.push({ constraint: 'partial', message: 'infeasible plan carries hops' });
    if (plan.infeasible.length === 0) out.push({ constraint: 'unexplained', message: 'infeasible plan names no blocking constraint' });
    return out;
  }
  const devices = machine.devices;
  // Entering traffic per ingress interface, as the request and telemetry give it.
  const entering = new Map<string, number>();
  for (const p of machine.ports) entering.set(p.interface, p.traffic?.pps ?? chain[0]?.traffic.pps ?? 0);
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

  // Kept per device index and per chain place, in arrays, not in maps keyed by id or name: these
  // are read for every hop of every machine of a fleet, and the map lookups cost more than the
  // checks. Per device: the flavour the plan runs it on (looked up once), the flavour a hop first
  // used it with, and the use summed over the plan's hops (reported in the order first used).
  const chosen: (DeviceFlavour | undefined | null)[] = new Array(devices.length).fill(null);
  const chosenFlavour = (d: number): DeviceFlavour | undefined => {
    let f = chosen[d];
    if (f === null) {
      const id = plan.flavourSwitches[devices[d].id] ?? devices[d].flavours[0]?.profileId;
      chosen[d] = f = devices[d].flavours.find((x) => x.profileId === id);
    }
    return f;
  };
  const flavourOfCard: (DeviceFlavour | undefined)[] = new Array(devices.length).fill(undefined);
  const acc: (Acc | undefined)[] = new Array(devices.length).fill(undefined);
  const accOrder: number[] = [];
  let hostCores = 0;
  const counts = new Int32Array(chain.length);
  const hooks: Hook[] = [];
  const hookCounts: number[] = [];

  for (const [iface, path] of pathOf) {
    const port = machine.ports.find((p) => p.interface === iface)!;
    let owner = -1;
    let ownerPort = 0;
    for (let d = 0; d < devices.length && owner < 0; d++) {
      const i = devices[d].interfaces?.indexOf(iface) ?? -1;
      if (i >= 0) {
        owner = d;
        ownerPort = i;
      }
    }
    const ownerDevice = owner >= 0 ? devices[owner] : null;
    const hops = path.hops;
    // The chain, module by module, on this port: each exactly once, in chain order.
    counts.fill(0);
    let unknown = false;
    let inOrder = true;
    let lastRank = -1;
    for (const h of hops) {
      const e = byName.get(h.module);
      if (!e) {
        unknown = true;
        continue;
      }
      counts[e.rank]++;
      if (e.rank < lastRank) inOrder = false;
      lastRank = e.rank;
    }
    for (let i = 0; i < chain.length; i++) {
      const k = counts[rankAt[i]];
      if (k !== 1) {
        const name = chain[i].name;
        out.push({
          module: name,
          interface: iface,
          constraint: 'split_chain',
          message: `${name} runs ${k} times on ${iface}'s path; the whole chain must run once on every ingress port`,
        });
      }
    }
    if (unknown)
      for (const h of hops)
        if (!byName.has(h.module))
          out.push({
            module: h.module,
            interface: iface,
            constraint: 'unknown',
            message: `hop for ${h.module}, which the placement does not ask for`,
          });
    if (!inOrder)
      out.push({
        interface: iface,
        constraint: 'order',
        message: `hops on ${iface} are not in chain order (${hops.map((h) => h.module).join(' -> ')})`,
      });

    // Hooks of this path in the order first used, and how many modules each holds.
    hooks.length = 0;
    hookCounts.length = 0;
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
    for (let i = 0; i < hops.length; i++) {
      const h = hops[i];
      const m = byName.get(h.module)?.module;
      // Rates this hop really sees: what entered, less what earlier modules stopped, capped by what it is declared or observed to get.
      const observed = port.moduleTraffic?.[h.module] ?? machine.traffic?.[h.module];
      const pps = i === 0 ? (observed?.pps ?? upstream) : Math.min(observed?.pps ?? m?.traffic.pps ?? Infinity, upstream);
      upstream = pps * Math.min(1, Math.max(0, m?.passRatio ?? 1));
      const position = POSITION[h.hook];
      if (position !== h.position) out.push(at(h, 'position', `${h.hook} is at position ${position}, the hop says ${h.position}`));
      if (position < lastPosition)
        out.push(at(h, 'order', `${h.module} at ${h.hook} comes after ${lastHook} on ${iface}: packets never go back`));
      if (lastHook && lastHook !== h.hook && exclusivePair(lastHook, h.hook)) {
        out.push(at(h, 'exclusivity', `${lastHook} and ${h.hook} both hold modules on ${iface}; one netdev takes only one of them`));
      }
      lastPosition = Math.max(lastPosition, position);
      lastHook = h.hook;
      const seen = hooks.indexOf(h.hook);
      if (seen < 0) {
        hooks.push(h.hook);
        hookCounts.push(1);
      } else hookCounts[seen]++;
      if (!m) continue;
      // The hop must be a position of this port's own path.
      if (!ownerDevice || ownerDevice.id !== h.deviceId) {
        out.push(at(h, 'position', `${h.deviceId} does not own ${iface}: a module on another port's path never sees this port's traffic`));
        continue;
      }
      if (h.port !== ownerPort) out.push(at(h, 'position', `${iface} is port ${ownerPort} of ${ownerDevice.id}, the hop says ${h.port}`));
      const dpuHook = h.hook === 'dpu-flow' || h.hook === 'dpu-xdp';
      const wantIface = dpuHook ? `p${ownerPort}` : iface;
      if (h.interface !== wantIface)
        out.push(at(h, 'position', `${h.hook} of ${iface}'s path attaches to ${wantIface}, not ${h.interface}`));
      let flavour: DeviceFlavour | undefined;
      if (h.target === 'host-xdp-generic') {
        flavour = HOST_KERNEL_FLAVOUR;
      } else {
        flavour = chosenFlavour(owner);
        const prev = flavourOfCard[owner];
        if (flavour && prev && prev !== flavour)
          out.push(at(h, 'firmware', `${ownerDevice.id} needs both ${prev.profileId} and ${flavour.profileId}`));
        if (flavour) flavourOfCard[owner] = flavour;
        if (!flavour || !flavour.targets.includes(h.target) || hookOf(ownerDevice.kind, h.target) !== h.hook) {
          out.push(
            at(h, 'target', `${h.target} at ${h.hook} is not offered by ${ownerDevice.id} running ${flavour?.profileId ?? 'no profile'}`),
          );
          continue;
        }
      }
      const verdict = m.verdicts[flavour.profileId] ?? (h.target.startsWith('host-') ? m.verdicts[HOST_VERDICT_KEY] : undefined);
      if (!verdict?.acceptedTargets.includes(h.target))
        out.push(at(h, 'verifier', `${h.target} not accepted by the verifier for ${flavour.profileId}`));
      if (m.pin !== undefined && m.pin !== h.target && m.pin !== h.deviceId) out.push(at(h, 'pin', `pinned to ${m.pin}`));
      if (latencyOf(flavour, h.target) > m.latencyBudgetUs + TOL)
        out.push(at(h, 'latency', `${h.hook} adds ${latencyOf(flavour, h.target)} us, over the ${m.latencyBudgetUs} us budget`));
      const extra = hostExtraNs(ownerDevice.flavours[0] ?? null, h.target as Target, m.passRatio ?? 1, i === hops.length - 1);
      hopTraffic.pps = pps;
      const u = usageOf(m, hopTraffic, flavour, h.target, hopUsage, extra);
      hostCores += u.hostCores;
      if (h.target === 'host-xdp-generic') continue;
      let a = acc[owner];
      if (!a) {
        acc[owner] = a = { instructions: 0, mapMemoryBytes: 0, flowRules: 0, throughput: 0, arm: 0, flavour };
        accOrder.push(owner);
      }
      a.instructions += u.instructions;
      a.mapMemoryBytes += u.mapMemoryBytes;
      a.flowRules += u.flowRules;
      a.throughput += u.throughput;
      a.arm += u.arm;
    }
    // Today's agents load one chain per device port: the card's hardware hooks of a port hold one chain (host XDP is loaded apart).
    if (machine.oneChainPerPort) {
      const cardHooks = hooks.filter((h) => h !== 'xdp-generic' && h !== 'xdp-native');
      if (cardHooks.length > 1)
        out.push({
          interface: iface,
          constraint: 'exclusivity',
          message: `${cardHooks.join(' and ')} both hold modules on ${iface}, but the agent loads one chain per device port`,
        });
    }
    for (let j = 0; j < hooks.length; j++) {
      const slots = slotsOf(machine, owner, hooks[j], chosenFlavour);
      if (hookCounts[j] > slots)
        out.push({
          interface: iface,
          constraint: 'slots',
          message: `${hookCounts[j]} modules on ${hooks[j]} of ${iface}, which has ${slots} slot(s)`,
        });
    }
  }
  for (const d of accOrder) {
    const a = acc[d]!;
    const f = a.flavour;
    const id = devices[d].id;
    overCapacity(out, id, 'instructions', a.instructions, f.maxInstructions);
    overCapacity(out, id, 'mapMemoryBytes', a.mapMemoryBytes, f.mapMemoryBytes);
    overCapacity(out, id, 'flowRules', a.flowRules, f.flowRules);
    overCapacity(out, id, 'throughput', a.throughput, 1);
    overCapacity(out, id, 'arm', a.arm, 1);
  }
  if (hostCores > machine.hostCoreBudget * (1 + 1e-6) + TOL)
    out.push({ constraint: 'capacity', message: `${hostCores} host cores over the budget ${machine.hostCoreBudget}` });
  return out;
}

/** A device's summed use of the plan's hops, with the flavour it was first used with. */
interface Acc {
  instructions: number;
  mapMemoryBytes: number;
  flowRules: number;
  throughput: number;
  arm: number;
  flavour: DeviceFlavour;
}

function overCapacity(out: PlanViolation[], deviceId: string, kind: keyof Omit<Acc, 'flavour'>, used: number, cap: number): void {
  if (used > cap * (1 + 1e-6) + TOL)
    out.push({ deviceId, constraint: 'capacity', message: `${kind} ${used} over capacity ${cap} on ${deviceId}` });
}

/** Slots of a hook from the raw facts: the agent's report for the firmware a card runs now, else its profile. */
function slotsOf(machine: PlacementMachine, owner: number, hook: Hook, chosen: (d: number) => DeviceFlavour | undefined): number {
  if (hook === 'xdp-generic') return machine.hookSlots?.host?.['xdp-generic'] ?? HOST_GENERIC_SLOTS;
  if (owner < 0) return 0;
  const device = machine.devices[owner];
  const f = chosen(owner);
  if (!f) return 0;
  if (hook === 'dpu-flow' || hook === 'nic-flow')
    return (f === device.flavours[0] ? machine.hookSlots?.[device.id]?.[hook] : undefined) ?? Infinity;
  const profile = hook === 'nic-xdp-offload' ? Math.min(1, f.programSlotsPerPort) : f.programSlotsPerPort;
  const reported = f === device.flavours[0] ? machine.hookSlots?.[device.id]?.[hook] : undefined;
  // Driver XDP is chained by the host kernel: what the agent found it allows beats the profile's estimate.
  if (hook === 'xdp-native' && reported !== undefined) return reported;
  return reported === undefined ? profile : Math.min(profile, reported);
}
