import type { FirmwareProfile, PlacementDeviceKind as DeviceKind, PlacementPreference, Target } from '@ioplane/domain';
import { placementDevice, PlacementDevice, PlacementMachine, PlacementModule, PlacementVerdict, seededRandom } from '@ioplane/placement';

/**
 * A generated fleet shaped like fleets/demo.yaml: the same host shapes (Agilio in its three
 * flavours, ConnectX + BlueField, Pensando, Intel-only), zones and pools, at any size, from a
 * fixed seed. Device numbers come from the real firmware-profiles/*.yaml.
 */

interface Shape {
  weight: number;
  tags: string[];
  cores: number;
  nics: [string, DeviceKind, string][];
}

const SHAPES: Shape[] = [
  { weight: 3, tags: ['smartnic'], cores: 128, nics: [['nfp0', 'smartnic', 'netronome-agilio-cx-bpf-2.1'], ['eth0', 'nic', 'intel-x710-9.20']] },
  { weight: 1, tags: ['smartnic'], cores: 128, nics: [['nfp0', 'smartnic', 'netronome-agilio-cx-flower-2.1'], ['eth0', 'nic', 'intel-x710-9.20']] },
  { weight: 1, tags: ['smartnic'], cores: 128, nics: [['nfp0', 'smartnic', 'netronome-agilio-cx-nic-2.1']] },
  { weight: 2, tags: ['dpu-host'], cores: 64, nics: [['eth0', 'smartnic', 'mellanox-connectx-6dx-22.39'], ['dpu0', 'dpu', 'nvidia-bluefield-2-24.35']] },
  { weight: 2, tags: ['dpu-host'], cores: 64, nics: [['eth0', 'smartnic', 'mellanox-connectx-7-28.39'], ['dpu0', 'dpu', 'nvidia-bluefield-3-32.39']] },
  { weight: 2, tags: [], cores: 128, nics: [['eth0', 'nic', 'intel-e810-4.20']] },
  { weight: 1, tags: ['smartnic'], cores: 128, nics: [['pen0', 'dpu', 'pensando-dsc-25-1.28'], ['eth0', 'nic', 'intel-x710-9.20']] },
  { weight: 1, tags: ['legacy-nic'], cores: 64, nics: [['eth0', 'nic', 'intel-x710-9.20']] },
  { weight: 1, tags: [], cores: 64, nics: [['eth0', 'smartnic', 'mellanox-connectx-6dx-22.39'], ['eth1', 'nic', 'intel-e810-4.20']] },
];

const ZONES = ['zone-a', 'zone-b', 'zone-c'];

/** The demo's modules (modules/*), plus one more, with facts a compiler run would produce (estimates). */
interface ModuleFacts {
  name: string; pps: number; bytes: number; latency: number; prefer: PlacementPreference; ns: number; insns: number; mapBytes: number; pass?: number;
  /** Offload verdicts: which non-host targets the verifier accepts. */
  accepts: Target[];
}
const MODULES: ModuleFacts[] = [
  { name: 'ddos-drop', pass: 0.8, pps: 10e6, bytes: 128, latency: 5, prefer: 'dpu', ns: 25, insns: 180, mapBytes: 8e6, accepts: ['nic-xdp-offload', 'nic-flow-offload', 'dpu-flow-offload', 'dpu-arm-xdp'] },
  { name: 'acl-firewall', pass: 0.95, pps: 5e6, bytes: 512, latency: 10, prefer: 'nic', ns: 40, insns: 320, mapBytes: 16e6, accepts: ['nic-xdp-offload', 'nic-flow-offload', 'dpu-flow-offload', 'dpu-arm-xdp'] },
  { name: 'rate-limiter', pass: 0.9, pps: 2e6, bytes: 256, latency: 10, prefer: 'auto', ns: 55, insns: 260, mapBytes: 32e6, accepts: ['nic-xdp-offload', 'dpu-arm-xdp'] },
  { name: 'ttl-guard', pps: 4e6, bytes: 600, latency: 8, prefer: 'host', ns: 15, insns: 60, mapBytes: 0, accepts: ['nic-xdp-offload', 'nic-flow-offload', 'dpu-flow-offload', 'dpu-arm-xdp'] },
  { name: 'vxlan-decap', pps: 3e6, bytes: 900, latency: 10, prefer: 'nic', ns: 35, insns: 140, mapBytes: 0, accepts: ['nic-xdp-offload', 'dpu-arm-xdp'] },
  { name: 'flow-counter', pps: 5e6, bytes: 700, latency: 5, prefer: 'auto', ns: 70, insns: 240, mapBytes: 64e6, accepts: ['nic-xdp-offload', 'dpu-arm-xdp'] },
  { name: 'l4-lb', pps: 8e6, bytes: 400, latency: 10, prefer: 'nic', ns: 190, insns: 900, mapBytes: 48e6, accepts: ['dpu-arm-xdp'] },
  { name: 'syn-guard', pps: 6e6, bytes: 80, latency: 10, prefer: 'auto', ns: 90, insns: 700, mapBytes: 24e6, accepts: ['nic-xdp-offload', 'dpu-arm-xdp'] },
];

function verdicts(f: ModuleFacts, profiles: readonly FirmwareProfile[]): Record<string, PlacementVerdict> {
  const out: Record<string, PlacementVerdict> = { 'host-kernel': { acceptedTargets: ['host-xdp-native', 'host-xdp-generic'], reasons: [] } };
  for (const p of profiles) {
    const acceptedTargets = p.targets.filter((t) => t.startsWith('host-') || f.accepts.includes(t));
    const reasons = p.targets.filter((t) => !acceptedTargets.includes(t)).map((t) => ({
      code: t.endsWith('flow-offload') ? 'packet_rewrite' : 'helper',
      message: t.endsWith('flow-offload') ? 'rewrites packets: not pure match-action' : 'helper bpf_redirect_map (51) not allowed by the profile',
      target: t,
    }));
    out[p.id] = { acceptedTargets, reasons };
  }
  return out;
}

export function benchModules(profiles: readonly FirmwareProfile[]): PlacementModule[] {
  return MODULES.map((f, i) => ({
    name: f.name, version: '1.0.0', chainPosition: i, traffic: { pps: f.pps, meanPacketBytes: f.bytes }, passRatio: f.pass, latencyBudgetUs: f.latency, prefer: f.prefer,
    hostNsPerPacket: f.ns, costEstimated: false, instructions: f.insns, mapMemoryBytes: f.mapBytes, flowRules: 50_000, verdicts: verdicts(f, profiles),
  }));
}

/**
 * `count` machines. Each card has two netdevs (`<name>p0`, `<name>p1`); traffic enters on one or
 * two of them (a DPU host on its DPU's ports), at the chain's base rate times a load factor (one
 * lognormal draw per machine: a host's share of the edge). One in five machines already runs
 * ddos-drop on host XDP (migration cost applies).
 */
export function benchFleet(profiles: readonly FirmwareProfile[], count: number, seed = 20240601): PlacementMachine[] {
  const rng = seededRandom(seed);
  const total = SHAPES.reduce((s, x) => s + x.weight, 0);
  const modules = benchModules(profiles);
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
    const gauss = Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
    const load = Math.min(3, Math.exp(0.35 * gauss));
    const front = devices.find((d) => d.kind === 'dpu') ?? devices[0];
    const uplinks = rng() < 0.3 ? front.interfaces! : [front.interfaces![0]];
    const entering = { pps: modules[0].traffic.pps * load, meanPacketBytes: modules[0].traffic.meanPacketBytes };
    const hostNic = devices.find((d) => d.flavours[0]?.targets.includes('host-xdp-native'));
    const currentPlacement: PlacementMachine['currentPlacement'] = {};
    if (hostNic && rng() < 0.2) currentPlacement['ddos-drop'] = { deviceId: hostNic.id, target: 'host-xdp-native' };
    machines.push({
      systemId: sys, hostname: `${zone.slice(-1)}-${sys}`, zone, pool: i % 4 === 0 ? 'core' : 'edge', tags: shape.tags, hostCores: shape.cores,
      hostCoreBudget: shape.cores / 12, devices, currentPlacement, ports: uplinks.map((u) => ({ interface: u, traffic: entering })),
    });
  }
  return machines;
}
