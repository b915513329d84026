import { EXCLUSIVE_HOOKS, Hook, HOOK_POSITION, HOOKS, Target } from '@ioplane/domain';
import { CostFigures, costTotal, emptyUsage, HOST_KERNEL_FLAVOUR, refigure, Usage, usageOf, breakdownFrom } from './cost.model';
import { chainRatesInto, PortPath, resolvePorts } from './port.paths';
import { sortByCost, TrafficFilter, trafficFilter } from './problem.filter';
import { StaticFilter, staticFilter } from './static.filter';
import {
  CostBreakdown,
  PROGRAM_SWAP_SECONDS,
  PlacementDevice,
  PlacementMachine,
  PlacementModule,
  RejectCode,
  TrafficDemand,
} from './placement.model';

/**
 * The hook positions as a local binding: an imported one is read through a getter on every use
 * (CommonJS re-exports), and these are read for every option of every machine.
 */
const POSITION = HOOK_POSITION;

/** One (device, flavour, target, hook) a row (a module on one port) may take, with its cost and resource use. */
export interface Candidate {
  deviceIndex: number;
  flavourIndex: number;
  target: Target;
  hook: Hook;
  /** HOOK_POSITION of the hook. */
  stage: number;
  /** hce, without the one-off flavour switch (charged per device). */
  cost: number;
  /** The cost's parts, packed (see costFigures); breakdownOf makes the object when it is shown. */
  figures: CostFigures;
  breakdown?: CostBreakdown;
  res: number[];
  amt: number[];
  described?: string;
}

export interface RawRejection {
  deviceIndex: number;
  target: Target;
  hook: Hook;
  code: RejectCode;
  message: string;
}

export type ResourceKind = keyof Omit<Usage, 'armCores'>;

export interface Resource {
  kind: ResourceKind;
  /** -1 for the machine-wide host-core budget. */
  deviceIndex: number;
  flavourIndex: number;
  capacity: number;
  label: string;
}

/**
 * A machine's placement as numbers: every solver and explainer works on this. A row is one
 * module on one ingress port (rows of a port are consecutive, in chain order); the chain's
 * order and hook exclusivity hold between consecutive rows of one port only.
 */
export interface MachineProblem {
  machine: PlacementMachine;
  /** The machine's cards, then the host kernel (generic XDP) as the last entry. */
  devices: PlacementDevice[];
  /** Index of the host-kernel entry in devices. */
  hostDevice: number;
  /** The chain, sorted. */
  chain: PlacementModule[];
  ports: PortPath[];
  /** Per row: its module (chain[row % chain.length]). */
  modules: PlacementModule[];
  /** Per row: its port index. */
  rowPort: number[];
  /** Per row: true when it is the first module of its port's chain. */
  chainStart: boolean[];
  /** Allowed transitions between positions on one port (see transitions). */
  allowed: readonly boolean[];
  traffic: TrafficDemand[];
  /**
   * The traffic filter's count of problems made from it: explanations are shared between the
   * problems of one filter, which is only worth its keys when there are several.
   */
  filter?: { readonly problems: number };
  /** Shared with the traffic filter and other classes: never mutated. */
  candidates: readonly (readonly Candidate[])[];
  rejected: readonly (readonly RawRejection[])[];
  resources: Resource[];
  /** Per device, per flavour: hce charged once when the plan uses a flavour other than flavour 0. */
  switchCost: number[][];
}

/** Number of hook positions. */
export const STAGES: number = HOOKS.length;
/** The state before a port's first module: anything may follow it. */
export const START: number = STAGES;
/** States a row may start from: the previous row's position on the same port, or START. */
export const STATES = STAGES + 1;

/**
 * Hooks the card's own driver runs (its hardware: flow rules, offload, DPU). Driver and generic
 * XDP are the host kernel's: the agent loads them as a chain apart (a host-XDP-only card's
 * driver has no other hook; a card with hardware hooks hands its netdevs' host XDP to a device
 * of their own), so they never share the card's one chain per port.
 */
const CARD_HOOK = (h: number) => h < POSITION['xdp-native'];

/**
 * Which position may follow which on one port, as a STATES x STAGES table: packets never go
 * back, and exclusive hooks (native and generic on one netdev; a NIC's flow and XDP offload)
 * never both hold modules of one port. Both hooks of an exclusive pair are neighbours in packet
 * order, so checking neighbours is enough. `oneCardHook`: the agent loads one chain per device
 * port, so a port's modules on the card's hardware share one hook (host XDP runs apart).
 */
export function transitions(oneCardHook: boolean): boolean[] {
  const t: boolean[] = new Array(STATES * STAGES).fill(true);
  for (let prev = 0; prev < STAGES; prev++) {
    for (let next = 0; next < STAGES; next++) {
      let ok = next >= prev;
      for (const [a, b] of EXCLUSIVE_HOOKS) {
        const pa = POSITION[a];
        const pb = POSITION[b];
        if ((prev === pa && next === pb) || (prev === pb && next === pa)) ok = false;
      }
      if (oneCardHook && prev !== next && CARD_HOOK(prev) && CARD_HOOK(next)) ok = false;
      t[prev * STAGES + next] = ok;
    }
  }
  return t;
}

const DEFAULT_TRANSITIONS = transitions(false);
const ONE_CARD_HOOK = transitions(true);
/** The transitions a machine's ports allow (see transitions). */
export function allowedOn(machine: Pick<PlacementMachine, 'oneChainPerPort'>): readonly boolean[] {
  return machine.oneChainPerPort ? ONE_CARD_HOOK : DEFAULT_TRANSITIONS;
}

/** A table where only the packet order holds: what diagnosis relaxes to when it drops the hook rules. */
export const ANY_ORDER: boolean[] = new Array(STATES * STAGES).fill(true);

/** May a module at position `next` follow state `prev` (a position, or START) on one port? */
export function follows(prev: number, next: number, table: readonly boolean[] = DEFAULT_TRANSITIONS): boolean {
  return table[prev * STAGES + next];
}

/** The state the next row starts from after this row took `stage`. */
export function stateAfter(p: MachineProblem, row: number, stage: number): number {
  return row + 1 < p.chainStart.length && p.chainStart[row + 1] ? START : stage;
}

export function breakdownOf(c: Candidate): CostBreakdown {
  return (c.breakdown ??= breakdownFrom(c.figures));
}

/** The id under which the host kernel (generic XDP) appears among a problem's devices: never shown in a plan. */
export function hostKernelId(machine: PlacementMachine): string {
  return `${machine.systemId}/host-kernel`;
}

/** The machine's cards, then the host kernel that runs generic XDP on any of their netdevs. */
export function devicesOf(machine: PlacementMachine): PlacementDevice[] {
  return [...machine.devices, { id: hostKernelId(machine), kind: 'nic', flavours: [HOST_KERNEL_FLAVOUR], interfaces: [] }];
}

/** The module's traffic on the machine when one figure stands for every port (telemetry, or its declaration). */
export function trafficFor(machine: PlacementMachine, m: PlacementModule): TrafficDemand {
  return machine.traffic?.[m.name] ?? m.traffic;
}

/** Chain order: by position, ties by name so the order never depends on input order. */
export function sortChain<T extends { chainPosition: number; name: string }>(modules: readonly T[]): T[] {
  return [...modules].sort((a, b) => a.chainPosition - b.chainPosition || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** The device id a hop on `d` reports: the card owning the port's netdev for the host kernel's generic hook. */
export function shownDeviceId(p: Pick<MachineProblem, 'devices' | 'hostDevice' | 'ports'>, d: number, port: number): string {
  if (d !== p.hostDevice) return p.devices[d].id;
  const card = p.ports[port].card;
  return card >= 0 ? p.devices[card].id : p.devices[d].id;
}

/**
 * One machine's problem from a traffic filter: a module the machine already runs has every
 * candidate but the one it runs on charged the program swap; the others are shared as they are.
 */
export function problemFrom(
  machine: PlacementMachine,
  chain: PlacementModule[],
  devices: PlacementDevice[],
  ports: PortPath[],
  tf: TrafficFilter,
): MachineProblem {
  const n = chain.length;
  const hostDevice = devices.length - 1;
  const candidates: (readonly Candidate[])[] = [];
  const rejected: (readonly RawRejection[])[] = [];
  const modules: PlacementModule[] = [];
  const rowPort: number[] = [];
  const chainStart: boolean[] = [];
  const shape = { devices, hostDevice, ports };
  tf.problems++;
  for (let r = 0; r < tf.modules.length; r++) {
    const m = chain[r % n];
    const pi = Math.floor(r / n);
    modules.push(m);
    rowPort.push(pi);
    chainStart.push(r % n === 0);
    const o = tf.modules[r];
    rejected.push(o.rejected);
    const current = machine.currentPlacement[m.name];
    if (current === undefined) {
      candidates.push(o.sorted);
      continue;
    }
    const cands = o.sorted.map((c) => {
      const moved =
        current.deviceId !== shownDeviceId(shape, c.deviceIndex, pi) ||
        current.target !== c.target ||
        (current.interface !== undefined && current.interface !== ports[pi].interface);
      const figures = refigure(m, c.figures, c.target, moved ? PROGRAM_SWAP_SECONDS : 0);
      return { ...c, cost: figures[6], figures, breakdown: undefined, described: undefined };
    });
    candidates.push(sortByCost(cands));
  }
  const allowed = allowedOn(machine);
  return {
    machine,
    devices,
    hostDevice,
    chain,
    ports,
    modules,
    rowPort,
    chainStart,
    allowed,
    traffic: tf.traffic,
    filter: tf,
    candidates,
    rejected,
    resources: tf.resources,
    switchCost: tf.switchCost,
  };
}

/** Every row's traffic: per port, the chain's rates (the entering rate replaced by `entering` when given). */
export function rowTraffic(
  machine: PlacementMachine,
  chain: readonly PlacementModule[],
  ports: readonly PortPath[],
  entering?: readonly TrafficDemand[],
): TrafficDemand[] {
  const n = chain.length;
  const out: TrafficDemand[] = new Array(ports.length * n);
  if (ratePps.length < n) {
    ratePps = new Array<number>(n).fill(0.5);
    rateBytes = new Array<number>(n).fill(0.5);
  }
  for (let i = 0; i < ports.length; i++) {
    const p = ports[i];
    chainRatesInto(machine, machine.ports[p.index], chain, entering?.[i] ?? p.entering, ratePps, rateBytes, 0);
    for (let k = 0; k < n; k++) out[i * n + k] = { pps: ratePps[k], meanPacketBytes: rateBytes[k] };
  }
  return out;
}

/** rowTraffic's scratch rates of one port (plain arrays of doubles). */
let ratePps: number[] = [];
let rateBytes: number[] = [];

/**
 * Build the per-machine problem. `entering` replaces each port's entering traffic (equivalence
 * classes solve at the bucket's upper edge so the plan stays feasible for every member).
 */
export function buildProblem(machine: PlacementMachine, modules: readonly PlacementModule[], entering?: TrafficDemand[]): MachineProblem {
  const chain = sortChain(modules);
  const devices = devicesOf(machine);
  const ports = resolvePorts(machine, chain);
  const statics = staticFilter(chain, devices, ports, devices.length - 1);
  return problemFrom(
    machine,
    chain,
    devices,
    ports,
    trafficFilter(machine, chain, devices, ports, statics, rowTraffic(machine, chain, ports, entering)),
  );
}

/**
 * A lower bound on the cost of every plan of the problem these inputs build (problemFrom over
 * trafficFilter): per port, the cheapest chain of options its statics allow in hook order, each
 * figured as trafficFilter figures it at the row's traffic. Shared capacities, a row's own
 * capacity refusals (bar throughput), migration and flavour switches are left out: each only adds
 * to a plan's cost or takes options away. Infinity when a port has no chain at all. Replica pricing
 * uses it to skip building problems whose added cost cannot be among the cheapest.
 */
export function relaxedCost(
  machine: PlacementMachine,
  chain: readonly PlacementModule[],
  devices: readonly PlacementDevice[],
  ports: readonly PortPath[],
  statics: StaticFilter,
  traffic: readonly TrafficDemand[],
): number {
  const allowed = allowedOn(machine);
  const usage = emptyUsage();
  const n = chain.length;
  // after[s]: the cheapest rest of the port's chain from state s; here[s]: the same one row up.
  let after = new Array<number>(STATES).fill(0);
  let here = new Array<number>(STATES).fill(0);
  let total = 0;
  for (let pi = 0; pi < ports.length; pi++) {
    after.fill(0);
    for (let mi = n - 1; mi >= 0; mi--) {
      const r = pi * n + mi;
      const m = chain[mi];
      here.fill(Infinity);
      for (const o of statics[r]) {
        if (o.rejection) continue;
        const flavour = devices[o.deviceIndex].flavours[o.flavourIndex];
        usageOf(m, traffic[r], flavour, o.target, usage, o.extraNs);
        if (usage.throughput > 1 + 1e-9 || usage.arm > 1 + 1e-9) continue;
        const stage = POSITION[o.hook];
        const cost =
          costTotal(usage.hostCores, usage.armCores, usage.throughput, o.latency, 0, o.utilWeight, o.preferPenalty) + after[stage];
        for (let s = 0; s < STATES; s++) if (cost < here[s] && allowed[s * STAGES + stage]) here[s] = cost;
      }
      [after, here] = [here, after];
    }
    total += after[START];
  }
  return total;
}
