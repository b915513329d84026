import { join } from 'node:path';
import type { Device, FirmwareProfile, Target } from '@ioplane/domain';
import { BPFFS_ROOT } from '@ioplane/compiler';
import type { FaultBook } from '../fault.book';

export interface KernelXdpOptions {
  agentId: string;
  device: Device;
  /** Position of the device on its machine; keeps port subnets apart. */
  deviceIndex: number;
  /** Chain metadata and module objects; bpffs cannot hold regular files. */
  stateDir: string;
  /** Profile of the NIC whose host XDP this is (its firmware is emulated); null for the host CPU. */
  profile: FirmwareProfile | null;
  profiles: readonly FirmwareProfile[];
  faults: FaultBook;
  timeScale?: number;
  /**
   * The host XDP modes this device offers, when it runs the netdevs of a card whose own driver is
   * emulated (that card's modes, see familyHostTargets); absent: hostTargets(profile).
   */
  hostTargets?: Target[];
  /**
   * The host's interfaces: the driver attaches to the MAAS-named netdev of each port in this
   * namespace (null: the namespace the agent runs in, as on a real host). Absent: each port is a
   * scratch veth pair the driver creates in a namespace of its own (kernel tests only).
   */
  host?: HostPorts;
}

/** Where a host-mode driver finds its ports, and who sends probe traffic at their wire. */
export interface HostPorts {
  netns: string | null;
  /** Sends packets at the wire in front of a port (the simulator's wire namespace); absent on a real host, which has no wire to send from. */
  wire?: (iface: string, packets: number) => Promise<number>;
  /**
   * Emulated hardware stages of a packet-true fleet, by device id: where a SmartNIC's or DPU's
   * accepted XDP runs (the stage namespace and its ingress netdev per port). Never set on a real host.
   */
  stages?: Record<string, { netns: string; netdevs: (string | null)[]; wire?: (port: number, packets: number) => Promise<number> }>;
}

const HOST_TARGETS: Target[] = ['host-xdp-native', 'host-xdp-generic'];

/**
 * What the host kernel runs on a card's netdevs: driver XDP where the profile says the driver has
 * it (every mode without a profile: the kernel tries native, then generic), and generic XDP on
 * any netdev, since the kernel offers it whatever the driver.
 */
export function hostTargets(profile: FirmwareProfile | null): Target[] {
  if (!profile) return [...HOST_TARGETS];
  return HOST_TARGETS.filter((t) => t === 'host-xdp-generic' || profile.targets.includes(t));
}

export function bpffsRoot(agentId: string): string {
  return join(BPFFS_ROOT, 'ioplane', agentId.replace(/[^A-Za-z0-9_-]/g, '_'));
}
