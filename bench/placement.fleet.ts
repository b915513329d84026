import type { FirmwareProfile, PlacementDeviceKind as DeviceKind, PlacementPreference, Target } from '@ioplane/domain';
import { placementDevice, PlacementDevice, PlacementMachine, PlacementModule, PlacementVerdict, seededRandom } from '@ioplane/placement';

/**
 * The placement bench's fleet (issue 15): the demo fleet's host shapes (Agilio in its three
 * flavours, ConnectX + BlueField, Pensando, Intel-only), zones and pools, at any size, from a
 * fixed seed; 1 to 4 ingress ports per machine, each with its own heavy-tailed traffic draw, so
 * machines do not collapse into a few classes. Device numbers come from firmware-profiles/*.yaml.
 */

interface Shape {
  weight: number;
  tags: string[];
  cores: number;
  nics: [string, DeviceKind, string][];
}

const SHAPES: Shape[] = [
  {
    weight: 3,
    tags: ['smartnic'],
    cores: 128,
    nics: [
      ['nfp0', 'smartnic', 'netronome-agilio-cx-bpf-2.1'],
      ['eth0', 'nic', 'intel-x710-9.20'],
    ],
  },
  {
    weight: 1,
    tags: ['smartnic'],
    cores: 128,
    nics: [
      ['nfp0', 'smartnic', 'netronome-agilio-cx-flower-2.1'],
      ['eth0', 'nic', 'intel-x710-9.20'],
    ],
  },
  { weight: 1, tags: ['smartnic'], cores: 128, nics: [['nfp0', 'smartnic', 'netronome-agilio-cx-nic-2.1']] },
  {
    weight: 2,
    tags: ['dpu-host'],
    cores: 64,
    nics: [
      ['eth0', 'smartnic', 'mellanox-connectx-6dx-22.39'],
      ['dpu0', 'dpu', 'nvidia-bluefield-2-24.35'],
    ],
  },
  {
    weight: 2,
    tags: ['dpu-host'],
    cores: 64,
    nics: [
      ['eth0', 'smartnic', 'mellanox-connectx-7-28.39'],
      ['dpu0', 'dpu', 'nvidia-bluefield-3-32.39'],
    ],
  },
  { weight: 2, tags: [], cores: 128, nics: [['eth0', 'nic', 'intel-e810-4.20']] },
  {
    weight: 1,
    tags: ['smartnic'],
    cores: 128,
    nics: [
      ['pen0', 'dpu', 'pensando-dsc-25-1.28'],
      ['eth0', 'nic', 'intel-x710-9.20'],
    ],
  },
  { weight: 1, tags: ['legacy-nic'], cores: 64, nics: [['eth0', 'nic', 'intel-x710-9.20']] },
  {
    weight: 1,
    tags: [],
    cores: 64,
    nics: [
      ['eth0', 'smartnic', 'mellanox-connectx-6dx-22.39'],
      ['eth1', 'nic', 'intel-e810-4.20'],
    ],
  },
];

const ZONES = ['zone-a', 'zone-b', 'zone-c'];

/** The demo's modules (modules/*) and more, with facts a compiler run would produce (estimates). */
interface ModuleFacts {
  name: string;
  pps: number;
  bytes: number;
  latency: number;
  prefer: PlacementPreference;
  ns: number;
  insns: number;
  mapBytes: number;
  /** Share of what it sees that it passes on (the manifest's expected pass ratio). */
  pass: number;
  /** Offload verdicts: which non-host targets the verifier accepts. */
  accepts: Target[];
}
const MODULES: ModuleFacts[] = [
  {
    name: 'ddos-drop',
    pass: 0.8,
    pps: 10e6,
    bytes: 128,
    latency: 5,
    prefer: 'dpu',
    ns: 25,
    insns: 180,
    mapBytes: 8e6,
    accepts: ['nic-xdp-offload', 'nic-flow-offload', 'dpu-flow-offload', 'dpu-arm-xdp'],
  },
  {
    name: 'acl-firewall',
    pass: 0.95,
    pps: 8e6,
    bytes: 512,
    latency: 10,
    prefer: 'nic',
    ns: 40,
    insns: 320,
    mapBytes: 16e6,
    accepts: ['nic-xdp-offload', 'nic-flow-offload', 'dpu-flow-offload', 'dpu-arm-xdp'],
  },
  {
    name: 'rate-limiter',
    pass: 0.9,
    pps: 8e6,
    bytes: 256,
    latency: 10,
    prefer: 'auto',
    ns: 55,
    insns: 260,
    mapBytes: 32e6,
    accepts: ['nic-xdp-offload', 'dpu-arm-xdp'],
  },
  {
    name: 'ttl-guard',
    pass: 0.99,
    pps: 8e6,
    bytes: 600,
    latency: 8,
    prefer: 'host',
    ns: 15,
    insns: 60,
    mapBytes: 0,
    accepts: ['nic-xdp-offload', 'nic-flow-offload', 'dpu-flow-offload', 'dpu-arm-xdp'],
  },
  {
    name: 'vxlan-decap',
    pass: 1,
    pps: 8e6,
    bytes: 900,
    latency: 10,
    prefer: 'nic',
    ns: 35,
    insns: 140,
    mapBytes: 0,
    accepts: ['nic-xdp-offload', 'dpu-arm-xdp'],
  },
  {
    name: 'flow-counter',
    pass: 1,
    pps: 8e6,
    bytes: 700,
    latency: 10,
    prefer: 'auto',
    ns: 70,
    insns: 240,
    mapBytes: 64e6,
    accepts: ['nic-xdp-offload', 'dpu-arm-xdp'],
  },
  {
    name: 'syn-guard',
    pass: 0.97,
    pps: 8e6,
    bytes: 80,
    latency: 10,
    prefer: 'auto',
    ns: 90,
    insns: 700,
    mapBytes: 24e6,
    accepts: ['nic-xdp-offload', 'dpu-arm-xdp'],
  },
  {
    name: 'l4-lb',
    pass: 1,
    pps: 8e6,
    bytes: 400,
    latency: 10,
    prefer: 'nic',
    ns: 190,
    insns: 900,
    mapBytes: 48e6,
    accepts: ['dpu-arm-xdp'],
  },
];

/** The fleet-scoped module: a few hundred replicas on edge machines, spread over the zones. */
const SCOPED: ModuleFacts = {
  name: 'dns-guard',
  pass: 1,
  pps: 2e6,
  bytes: 120,
  latency: 10,
  prefer: 'auto',
  ns: 60,
  insns: 400,
  mapBytes: 16e6,
  accepts: ['nic-xdp-offload', 'dpu-arm-xdp'],
};
export const SCOPED_REPLICAS = (machines: number) => Math.max(3, Math.round(machines / 20));

function verdicts(f: ModuleFacts, profiles: readonly FirmwareProfile[]): Record<string, PlacementVerdict> {
  const out: Record<string, PlacementVerdict> = {
    'host-kernel': { acceptedTargets: ['host-xdp-native', 'host-xdp-generic'], reasons: [] },
  };
  for (const p of profiles) {
    const acceptedTargets = p.targets.filter((t) => t.startsWith('host-') || f.accepts.includes(t));
    const reasons = p.targets
      .filter((t) => !acceptedTargets.includes(t))
      .map((t) => ({
        code: t.endsWith('flow-offload') ? 'packet_rewrite' : 'helper',
        message: t.endsWith('flow-offload')
          ? 'rewrites packets: not pure match-action'
          : 'helper bpf_redirect_map (51) not allowed by the profile',
        target: t,
      }));
    out[p.id] = { acceptedTargets, reasons };
  }
  return out;
}

function toModule(f: ModuleFacts, i: number, profiles: readonly FirmwareProfile[]): PlacementModule {
  return {
    name: f.name,
    version: '1.0.0',
    chainPosition: i,
    traffic: { pps: f.pps, meanPacketBytes: f.bytes },
    passRatio: f.pass,
    latencyBudgetUs: f.latency,
    prefer: f.prefer,
    hostNsPerPacket: f.ns,
    costEstimated: false,
    instructions: f.insns,
    mapMemoryBytes: f.mapBytes,
    flowRules: 50_000,
    verdicts: verdicts(f, profiles),
  };
}

/**
 * The 8 chained modules (in chain order, each with its pass fraction) and the fleet-scoped one,
 * which runs last in the chain of the machines chosen for its replicas (at most a third per zone).
 */
export function benchModules(profiles: readonly FirmwareProfile[], machines = 10_000): PlacementModule[] {
  const replicas = SCOPED_REPLICAS(machines);
  const scoped: PlacementModule = {
    ...toModule(SCOPED, MODULES.length, profiles),
    scope: { replicas, totalPps: replicas * SCOPED.pps, selector: { pools: ['edge'] }, maxPerZone: Math.ceil(replicas / 3) + 1 },
  };
  return [...MODULES.map((f, i) => toModule(f, i, profiles)), scoped];
}

/** A Pareto draw (shape 1.6, scale 0.3, capped at 12x): a few ports carry far more than most. */
function heavyTail(rng: () => number): number {
  return Math.min(12, 0.3 / Math.pow(1 - rng(), 1 / 1.6));
}

/**
 * `count` machines. Each card has two netdevs (`<name>p0`, `<name>p1`); traffic enters on 1 to 4
 * of the machine's netdevs (the DPU's first when there is one, then the other cards'), each port
 * at the chain's base rate times its own heavy-tailed draw. One in five machines already runs
 * ddos-drop on host XDP (migration cost applies).
 */
export function benchFleet(profiles: readonly FirmwareProfile[], count: number, seed = 20240601): PlacementMachine[] {
  const rng = seededRandom(seed);
  const total = SHAPES.reduce((s, x) => s + x.weight, 0);
  const base = MODULES[0].pps;
  const machines: PlacementMachine[] = [];
  for (let i = 0; i < count; i++) {
    let r = rng() * total;
    const shape = SHAPES.find((s) => (r -= s.weight) < 0) ?? SHAPES[0];
    const zone = ZONES[i % ZONES.length];
    const sys = `bm${i.toString(36).padStart(5, '0')}`;
    const devices: PlacementDevice[] = [];
    for (const [name, kind, profileId] of shape.nics) {
      const d = placementDevice({ id: `${sys}/${name}`, kind, profileId, interfaces: [`${name}p0`, `${name}p1`] }, profiles);
      if (d) devices.push(d);
    }
    const front = devices.find((d) => d.kind === 'dpu') ?? devices[0];
    const netdevs = [...front.interfaces!, ...devices.filter((d) => d !== front).flatMap((d) => d.interfaces!)];
    const u = rng();
    const want = u < 0.4 ? 1 : u < 0.7 ? 2 : u < 0.85 ? 3 : 4;
    const ports = netdevs.slice(0, Math.min(want, netdevs.length)).map((iface) => ({
      interface: iface,
      traffic: { pps: Math.round(base * heavyTail(rng)), meanPacketBytes: MODULES[0].bytes },
    }));
    const hostNic = devices.find((d) => d.flavours[0]?.targets.includes('host-xdp-native'));
    const currentPlacement: PlacementMachine['currentPlacement'] = {};
    if (hostNic && rng() < 0.2) currentPlacement['ddos-drop'] = { deviceId: hostNic.id, target: 'host-xdp-native' };
    machines.push({
      systemId: sys,
      hostname: `${zone.slice(-1)}-${sys}`,
      zone,
      pool: i % 4 === 0 ? 'core' : 'edge',
      tags: shape.tags,
      hostCores: shape.cores,
      hostCoreBudget: shape.cores / 8,
      devices,
      currentPlacement,
      ports,
    });
  }
  return machines;
}

/** Machines whose hardware and traffic differ from every other machine's (ids and names aside). */
export function distinctInputs(fleet: readonly PlacementMachine[]): number {
  const seen = new Map<string, number>();
  for (const m of fleet) {
    const key = JSON.stringify([
      m.devices.map((d) => d.flavours.map((f) => f.profileId)),
      m.hostCoreBudget,
      m.ports.map((p) => [p.interface, p.traffic?.pps]),
      Object.entries(m.currentPlacement).map(([k, c]) => [k, m.devices.findIndex((d) => d.id === c.deviceId), c.target]),
    ]);
    seen.set(key, (seen.get(key) ?? 0) + 1);
  }
  let n = 0;
  for (const c of seen.values()) if (c === 1) n++;
  return n;
}
