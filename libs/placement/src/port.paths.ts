import { Hook, hookOf, Target } from '@ioplane/domain';
import { HOST_KERNEL_FLAVOUR } from './cost.model';
import {
  DeviceFlavour,
  HOST_GENERIC_SLOTS,
  IngressPort,
  PlacementDevice,
  PlacementMachine,
  PlacementModule,
  TrafficDemand,
} from './placement.model';

/** An ingress port resolved against the machine's devices. */
export interface PortPath {
  /** Index into machine.ports. */
  index: number;
  interface: string;
  /** Index into machine.devices of the card that owns the netdev; -1 when no known card does. */
  card: number;
  /** Index of the interface on that card. */
  port: number;
  entering: TrafficDemand;
}

/** Key under which agents' generic-hook slots are reported (the host kernel, not a card). */
export const HOST_SLOTS_KEY = 'host';

/** The machine's ingress ports that carry traffic (a port nothing enters gets no chain). */
export function resolvePorts(machine: PlacementMachine, chain: readonly PlacementModule[]): PortPath[] {
  // A loop, not flatMap: this runs several times per machine planned, and flatMap's array per port showed.
  const out: PortPath[] = [];
  const ports = machine.ports;
  const devices = machine.devices;
  for (let index = 0; index < ports.length; index++) {
    const p = ports[index];
    const entering = enteringTraffic(p, chain);
    if (!(entering.pps > 0)) continue;
    let card = -1;
    let port = 0;
    for (let d = 0; d < devices.length && card < 0; d++) {
      const i = devices[d].interfaces?.indexOf(p.interface) ?? -1;
      if (i >= 0) {
        card = d;
        port = i;
      }
    }
    out.push({ index, interface: p.interface, card, port, entering });
  }
  return out;
}

export function enteringTraffic(p: IngressPort, chain: readonly PlacementModule[]): TrafficDemand {
  return p.traffic ?? chain[0]?.traffic ?? { pps: 0, meanPacketBytes: 64 };
}

export function passOf(m: PlacementModule): number {
  const r = m.passRatio ?? 1;
  return r < 0 ? 0 : r > 1 ? 1 : r;
}

/**
 * What each module of the chain sees on one port: the first what enters (or what telemetry saw
 * it get), each later one what the one before passed, capped by its own declared or observed
 * rate. Never more than entered.
 */
export function chainRates(
  machine: PlacementMachine,
  port: IngressPort,
  chain: readonly PlacementModule[],
  entering?: TrafficDemand,
): TrafficDemand[] {
  // Plain arrays: a typed array costs about ten times more to allocate, and this runs per port per plan written.
  const pps: number[] = new Array<number>(chain.length).fill(0.5);
  const bytes: number[] = new Array<number>(chain.length).fill(0.5);
  chainRatesInto(machine, port, chain, entering ?? enteringTraffic(port, chain), pps, bytes, 0);
  const out: TrafficDemand[] = new Array(chain.length);
  for (let i = 0; i < chain.length; i++) out[i] = { pps: pps[i], meanPacketBytes: bytes[i] };
  return out;
}

/** chainRates written into `pps` and `bytes` from index `at`, without an object per module. */
export function chainRatesInto(
  machine: PlacementMachine,
  port: IngressPort,
  chain: readonly PlacementModule[],
  enter: TrafficDemand,
  pps: { [i: number]: number },
  bytes: { [i: number]: number },
  at: number,
): void {
  let upstream = enter.pps;
  const seen = port.moduleTraffic;
  const telemetry = machine.traffic;
  for (let i = 0; i < chain.length; i++) {
    const m = chain[i];
    const observed = seen?.[m.name] ?? telemetry?.[m.name];
    // What telemetry saw enter the first module is what enters the port; later ones never see more than passed.
    const x = i === 0 ? (observed?.pps ?? upstream) : Math.min(observed?.pps ?? m.traffic.pps, upstream);
    pps[at + i] = x;
    bytes[at + i] = observed?.meanPacketBytes ?? (i === 0 && port.traffic ? port.traffic.meanPacketBytes : m.traffic.meanPacketBytes);
    upstream = x * passOf(m);
  }
}

/** The netdev a hook attaches to: DPU hooks on the DPU's uplink `p<k>`, the rest on the host interface. */
export function hookInterface(hook: Hook, hostInterface: string, port: number): string {
  return hook === 'dpu-flow' || hook === 'dpu-xdp' ? `p${port}` : hostInterface;
}

/**
 * Program slots of one hook of one port: what the agent reports for the flavour a device runs
 * now, else the profile's; nfp offload has no tail calls (one program per port in hardware).
 */
export function hookSlots(machine: PlacementMachine, device: PlacementDevice | null, flavourIndex: number, hook: Hook): number {
  // Flow hooks hold rules, not programs (flowRules bounds them), unless the agent says otherwise:
  // today's agents load a flow module like a program and count it against the device's slots.
  if (hook === 'dpu-flow' || hook === 'nic-flow') {
    const reported = device && flavourIndex === 0 ? machine.hookSlots?.[device.id]?.[hook] : undefined;
    return reported ?? Infinity;
  }
  if (hook === 'xdp-generic') return machine.hookSlots?.[HOST_SLOTS_KEY]?.['xdp-generic'] ?? HOST_GENERIC_SLOTS;
  if (!device) return 0;
  const f: DeviceFlavour | undefined = device.flavours[flavourIndex];
  if (!f) return 0;
  let slots = f.programSlotsPerPort;
  if (hook === 'nic-xdp-offload') slots = Math.min(slots, 1);
  const reported = flavourIndex === 0 ? machine.hookSlots?.[device.id]?.[hook] : undefined;
  // Driver XDP is chained by the host kernel: what the agent found it allows beats the profile's estimate.
  if (hook === 'xdp-native' && reported !== undefined) return reported;
  return reported === undefined ? slots : Math.min(slots, reported);
}

/** Every (flavour, target, hook) a port's path offers, in packet order; generic XDP is always offered (host kernel). */
export function pathOptions(device: PlacementDevice | null): { flavourIndex: number; target: Target; hook: Hook; host: boolean }[] {
  const out: { flavourIndex: number; target: Target; hook: Hook; host: boolean }[] = [];
  if (device) {
    device.flavours.forEach((f, fi) => {
      for (const t of f.targets)
        if (t !== 'host-xdp-generic') out.push({ flavourIndex: fi, target: t, hook: hookOf(device.kind, t), host: false });
    });
  }
  out.push({ flavourIndex: 0, target: 'host-xdp-generic', hook: 'xdp-generic', host: true });
  return out;
}

export { HOST_KERNEL_FLAVOUR };
