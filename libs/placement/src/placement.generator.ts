import type { PlacementDeviceKind as DeviceKind, PlacementPreference, Target } from '@ioplane/domain';
import { DeviceFlavour, IngressPort, PlacementDevice, PlacementMachine, PlacementModule, PlacementVerdict } from './placement.model';

/**
 * Seeded generators for tests and the benchmark. The device numbers are copied from
 * firmware-profiles/*.yaml (same ids), so generated instances look like the demo fleet's hardware.
 */

/** mulberry32: small, fast, good enough for reproducible instances. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const GiB = 1024 ** 3;
const hostNic = (id: string, basePps: number, gbps: number, extra: Partial<DeviceFlavour> = {}): DeviceFlavour => ({
  profileId: id,
  targets: ['host-xdp-native'],
  programSlotsPerPort: 10,
  ports: 2,
  maxInstructions: 1_000_000,
  mapMemoryBytes: GiB,
  flowRules: 0,
  throughput: { basePps, nsPerInsn: 0.3, latencyUs: 5, lineRateGbps: gbps },
  switchSeconds: 0,
  ...extra,
});

export const CATALOG: Record<string, DeviceFlavour> = {
  'intel-x710-9.20': hostNic('intel-x710-9.20', 29_760_000, 20),
  'intel-e810-4.20': hostNic('intel-e810-4.20', 115_000_000, 100),
  'mellanox-connectx-6dx-22.39': hostNic('mellanox-connectx-6dx-22.39', 115_000_000, 200, {
    targets: ['host-xdp-native', 'nic-flow-offload'],
    flowRules: 1_000_000,
    switchSeconds: 165,
  }),
  'mellanox-connectx-7-28.39': hostNic('mellanox-connectx-7-28.39', 230_000_000, 400, {
    targets: ['host-xdp-native', 'nic-flow-offload'],
    flowRules: 4_000_000,
    switchSeconds: 165,
  }),
  'netronome-agilio-cx-nic-2.1': hostNic('netronome-agilio-cx-nic-2.1', 74_400_000, 50, { switchSeconds: 17 }),
  'netronome-agilio-cx-bpf-2.1': {
    profileId: 'netronome-agilio-cx-bpf-2.1',
    targets: ['nic-xdp-offload'],
    programSlotsPerPort: 1,
    ports: 2,
    maxInstructions: 1120,
    mapMemoryBytes: 196_480_000,
    flowRules: 0,
    throughput: { basePps: 74_400_000, nsPerInsn: 0.056, latencyUs: 2, lineRateGbps: 50 },
    switchSeconds: 17,
  },
  'netronome-agilio-cx-flower-2.1': {
    profileId: 'netronome-agilio-cx-flower-2.1',
    targets: ['nic-flow-offload'],
    programSlotsPerPort: 0,
    ports: 2,
    maxInstructions: 0,
    mapMemoryBytes: 0,
    flowRules: 500_000,
    throughput: { basePps: 74_400_000, nsPerInsn: 0, latencyUs: 2, lineRateGbps: 50 },
    switchSeconds: 17,
  },
  'nvidia-bluefield-2-24.35': {
    profileId: 'nvidia-bluefield-2-24.35',
    targets: ['dpu-arm-xdp', 'dpu-flow-offload'],
    programSlotsPerPort: 10,
    ports: 2,
    maxInstructions: 1_000_000,
    mapMemoryBytes: 2 * GiB,
    flowRules: 1_000_000,
    throughput: { basePps: 48_000_000, nsPerInsn: 1.2, latencyUs: 10, armCores: 8, armSlowdown: 4, lineRateGbps: 200 },
    switchSeconds: 780,
  },
  'nvidia-bluefield-3-32.39': {
    profileId: 'nvidia-bluefield-3-32.39',
    targets: ['dpu-arm-xdp', 'dpu-flow-offload'],
    programSlotsPerPort: 10,
    ports: 2,
    maxInstructions: 1_000_000,
    mapMemoryBytes: 4 * GiB,
    flowRules: 4_000_000,
    throughput: { basePps: 160_000_000, nsPerInsn: 0.75, latencyUs: 8, armCores: 16, armSlowdown: 2.5, lineRateGbps: 400 },
    switchSeconds: 690,
  },
  'pensando-dsc-25-1.28': {
    profileId: 'pensando-dsc-25-1.28',
    targets: ['nic-flow-offload', 'dpu-arm-xdp'],
    programSlotsPerPort: 10,
    ports: 2,
    maxInstructions: 1_000_000,
    mapMemoryBytes: GiB,
    flowRules: 1_000_000,
    throughput: { basePps: 24_000_000, nsPerInsn: 1.2, latencyUs: 10, armCores: 4, armSlowdown: 4, lineRateGbps: 50 },
    switchSeconds: 180,
  },
};

const AGILIO = ['netronome-agilio-cx-bpf-2.1', 'netronome-agilio-cx-nic-2.1', 'netronome-agilio-cx-flower-2.1'];

/**
 * A device running `profileId`; Agilio cards also offer their other flavours. Its netdevs are
 * `<name>p0`, `<name>p1` unless given (a DPU's: the host PFs it serves).
 */
export function catalogDevice(
  id: string,
  kind: DeviceKind,
  profileId: string,
  flavourSwitch = true,
  interfaces?: string[],
): PlacementDevice {
  const others = flavourSwitch && AGILIO.includes(profileId) ? AGILIO.filter((p) => p !== profileId) : [];
  const name = id.slice(id.indexOf('/') + 1);
  return { id, kind, flavours: [profileId, ...others].map((p) => CATALOG[p]), interfaces: interfaces ?? [`${name}p0`, `${name}p1`] };
}

/** The machine with traffic entering on these interfaces (each at `traffic`, or the chain's declared rate). */
export function withPorts(machine: PlacementMachine, interfaces: string[], traffic?: IngressPort['traffic']): PlacementMachine {
  return { ...machine, ports: interfaces.map((i) => ({ interface: i, ...(traffic ? { traffic } : {}) })) };
}

const NICS: [string, DeviceKind][] = [
  ['intel-x710-9.20', 'nic'],
  ['intel-e810-4.20', 'nic'],
  ['mellanox-connectx-6dx-22.39', 'smartnic'],
  ['mellanox-connectx-7-28.39', 'smartnic'],
  ['netronome-agilio-cx-bpf-2.1', 'smartnic'],
  ['netronome-agilio-cx-flower-2.1', 'smartnic'],
  ['pensando-dsc-25-1.28', 'dpu'],
];

/** Verdicts for every catalog profile plus host-kernel: each target accepted with a probability. */
export function randomVerdicts(rng: () => number, offloadability: number): Record<string, PlacementVerdict> {
  const out: Record<string, PlacementVerdict> = {};
  const p = (t: Target) => (t.startsWith('host-') ? 0.97 : t.endsWith('flow-offload') ? 0.5 * offloadability : offloadability);
  const judge = (id: string, targets: Target[]) => {
    const acceptedTargets = targets.filter((t) => rng() < p(t));
    const reasons = targets
      .filter((t) => !acceptedTargets.includes(t))
      .map((t) => ({
        code: t.endsWith('flow-offload') ? 'packet_rewrite' : 'helper',
        message: t.endsWith('flow-offload') ? 'rewrites packets: not pure match-action' : 'helper bpf_fib_lookup (69) not allowed',
        target: t,
      }));
    out[id] = { acceptedTargets, reasons };
  };
  for (const [id, f] of Object.entries(CATALOG)) judge(id, f.targets);
  judge('host-kernel', ['host-xdp-native', 'host-xdp-generic']);
  return out;
}

const PREFER: PlacementPreference[] = ['auto', 'auto', 'auto', 'host', 'nic', 'dpu'];

export interface RandomInstanceOptions {
  maxModules?: number;
  /** Scale of host-core budget; small values make capacity bind. */
  budgetScale?: number;
}

/**
 * A small single-machine instance (the kind HiGHS solves in milliseconds): one or two cards, maybe
 * a DPU, traffic entering on one to three of their ports at rates drawn per port, modules with
 * pass fractions, and agent-reported slots that are sometimes one per hook.
 */
export function randomInstance(
  rng: () => number,
  opts: RandomInstanceOptions = {},
): { machine: PlacementMachine; modules: PlacementModule[] } {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)];
  const sys = `m${Math.floor(rng() * 1e6)}`;
  const devices: PlacementDevice[] = [];
  const nics = 1 + Math.floor(rng() * 2);
  for (let i = 0; i < nics; i++) {
    const [pid, kind] = pick(NICS);
    devices.push(catalogDevice(`${sys}/nic${i}`, kind, pid, rng() < 0.5));
  }
  if (rng() < 0.35)
    devices.push(catalogDevice(`${sys}/dpu0`, 'dpu', rng() < 0.5 ? 'nvidia-bluefield-2-24.35' : 'nvidia-bluefield-3-32.39'));
  const n = 2 + Math.floor(rng() * ((opts.maxModules ?? 5) - 1));
  const modules: PlacementModule[] = Array.from({ length: n }, (_, i) => ({
    name: `mod${i}`,
    version: '1.0.0',
    chainPosition: i,
    traffic: { pps: Math.round(1e6 + rng() * 9e6), meanPacketBytes: 64 + Math.floor(rng() * 1400) },
    passRatio: rng() < 0.5 ? 1 : Math.round((0.3 + rng() * 0.7) * 100) / 100,
    latencyBudgetUs: pick([5, 8, 10, 20]),
    prefer: pick(PREFER),
    hostNsPerPacket: 15 + Math.floor(rng() * 150),
    costEstimated: rng() < 0.3,
    instructions: 40 + Math.floor(rng() * 900),
    mapMemoryBytes: Math.floor(rng() * 120e6),
    flowRules: Math.floor(rng() * 400_000),
    verdicts: randomVerdicts(rng, 0.7),
    ...(rng() < 0.05 ? { pin: pick(['host-xdp-native', 'host-xdp-generic', 'nic-xdp-offload'] as Target[]) } : {}),
  }));
  const all = devices.flatMap((d) => d.interfaces ?? []);
  const portCount = 1 + Math.floor(rng() * 3);
  const ingress = [...new Set(Array.from({ length: portCount }, () => pick(all)))];
  const ports: IngressPort[] = ingress.map((i) =>
    rng() < 0.7
      ? { interface: i, traffic: { pps: Math.round(5e5 + rng() * 8e6), meanPacketBytes: 64 + Math.floor(rng() * 1400) } }
      : { interface: i },
  );
  if (rng() < 0.15) ports.push({ interface: pick(all), traffic: { pps: 0, meanPacketBytes: 64 } });
  const hookSlots: PlacementMachine['hookSlots'] = {};
  if (rng() < 0.25) {
    // Agents on kernels without chains report one program per hook.
    hookSlots.host = { 'xdp-generic': 1 };
    for (const d of devices) hookSlots[d.id] = { 'xdp-native': 1, 'dpu-xdp': 1 };
  }
  const currentPlacement: PlacementMachine['currentPlacement'] = {};
  for (const m of modules) if (rng() < 0.25) currentPlacement[m.name] = { deviceId: devices[0].id, target: 'host-xdp-generic' };
  const machine: PlacementMachine = {
    systemId: sys,
    hostname: `host-${sys}`,
    zone: pick(['zone-a', 'zone-b', 'zone-c']),
    pool: 'edge',
    tags: [],
    hostCores: 64,
    hostCoreBudget: Math.round((0.5 + rng() * 4) * (opts.budgetScale ?? 1) * 100) / 100,
    devices,
    ports: dedupe(ports),
    hookSlots,
    currentPlacement,
    ...(rng() < 0.3 ? { oneChainPerPort: true } : {}),
  };
  return { machine, modules };
}

function dedupe(ports: IngressPort[]): IngressPort[] {
  const seen = new Set<string>();
  return ports.filter((p) => (seen.has(p.interface) ? false : (seen.add(p.interface), true)));
}
