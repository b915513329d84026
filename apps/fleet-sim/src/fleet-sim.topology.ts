import { runsOwnHostXdp, type Device, type FirmwareProfile } from '@ioplane/domain';
import {
  buildTopology,
  emulatedHostPorts,
  removeTopology,
  type EmulatedPortsSpec,
  type HostPorts,
  type MachineTopology,
  type PortPathSpec,
} from '@ioplane/devices';

/**
 * The ports of an emulated host and what stands in front of each, from its devices as the
 * inventory sees them: a DPU's ports get the DPU's namespace, a SmartNIC that offloads (XDP or
 * flow rules) gets a NIC stage, every port ends at its MAAS-named netdev in the host namespace.
 */
export function portSpecs(devices: readonly Device[], profiles: readonly FirmwareProfile[]): PortPathSpec[] {
  const out = new Map<string, PortPathSpec>();
  const dpus = devices.filter((d) => d.kind === 'dpu');
  for (const d of devices) {
    // A stage wherever any flavour of the card's firmware family offloads: a flash in a rollout
    // (Agilio nic -> bpf) must find the hardware stage on the port's path already cabled.
    const offloads = !runsOwnHostXdp(d.profileId, profiles);
    for (const name of d.interfaces) {
      out.set(
        name,
        d.kind === 'dpu' ? { interface: name, dpu: `dpu${dpus.indexOf(d)}` } : { interface: name, ...(offloads ? { nicStage: true } : {}) },
      );
    }
  }
  return [...out.values()];
}

/**
 * A built machine and the agent's view of it: `ports` as plain data (what an agent in another
 * process is given), `host` the same acting on the host namespace by name (an in-process agent).
 */
export interface SimMachineNet {
  topology: MachineTopology;
  ports: EmulatedPortsSpec;
  host: HostPorts;
  remove(): Promise<void>;
}

export async function buildMachineNet(o: {
  name: string;
  instanceId: string;
  index: number;
  devices: readonly Device[];
  profiles: readonly FirmwareProfile[];
}): Promise<SimMachineNet> {
  const topology = await buildTopology({
    hostname: o.name,
    instanceId: o.instanceId,
    index: o.index % 250,
    ports: portSpecs(o.devices, o.profiles),
  });
  const byMaas = new Map(topology.ports.map((p) => [p.interface, p]));
  const wireOf = (p: (typeof topology.ports)[number] | undefined) => (p ? { netns: p.hops[0].netns, address: p.hostAddress } : null);
  const ports: EmulatedPortsSpec = { wire: {}, stages: {} };
  for (const p of topology.ports) ports.wire[p.netdev] = wireOf(p)!;
  // Each SmartNIC and DPU gets the stage on its ports' paths: where its accepted XDP runs.
  for (const d of o.devices) {
    const hops = d.interfaces.map((name) => byMaas.get(name)?.hops.find((h) => h.kind === (d.kind === 'dpu' ? 'dpu' : 'nic')) ?? null);
    const first = hops.find((h) => h !== null);
    if (!first) continue;
    ports.stages[d.id] = {
      netns: first.netns,
      netdevs: hops.map((h) => h?.ingress ?? null),
      wire: d.interfaces.map((name) => wireOf(byMaas.get(name))),
    };
  }
  return { topology, ports, host: emulatedHostPorts(ports, topology.hostNetns), remove: () => removeTopology(topology) };
}
