import { DeviceKind } from './target';

export interface NetInterface {
  id: number;
  name: string;
  type: string;
  macAddress: string;
  vendor: string | null;
  product: string | null;
  firmwareVersion: string | null;
  linkSpeedMbps: number;
  numaNode: number;
  enabled: boolean;
  /** MAAS fields the ingress selector reads; absent in inventories synced before they were mapped. */
  /** Bond or bridge members (MAAS `parents`), empty for a physical interface. */
  parents?: string[];
  children?: string[];
  /** MAAS VLAN: its vid and fabric name. */
  vlan?: { vid: number; fabric: string } | null;
  tags?: string[];
  /** CIDRs of the subnets MAAS shows the interface linked to (its `links` with a subnet). */
  subnets?: string[];
}

export interface PciDevice {
  vendorId: string;
  productId: string;
  vendorName: string;
  productName: string;
  driver: string | null;
  pciAddress: string;
  numaNode: number;
  /** Name of the interface this PCI function backs, when MAAS links it. */
  interfaceName: string | null;
}

/** A MAAS machine as ioplane sees it. */
export interface Machine {
  systemId: string;
  hostname: string;
  fqdn: string;
  zone: string;
  pool: string;
  tags: string[];
  status: number;
  statusName: string;
  architecture: string;
  cpuCount: number;
  memoryMiB: number;
  powerState: string;
  ipAddresses: string[];
  /** Host of a DPU (MAAS `parent`); null for a host. */
  parentSystemId: string | null;
  isDpu: boolean;
  hardware: { systemVendor: string; systemProduct: string; systemFamily: string; cpuModel: string };
  interfaces: NetInterface[];
  pciDevices: PciDevice[];
  workloadAnnotations: Record<string, string>;
}

/** Something on a machine that can run a module. */
export interface Device {
  /** Stable id: `<systemId>/<name>`. */
  id: string;
  machineSystemId: string;
  kind: DeviceKind;
  name: string;
  vendorId: string | null;
  productId: string | null;
  vendorName: string | null;
  productName: string | null;
  firmwareVersion: string | null;
  driver: string | null;
  pciAddress: string | null;
  interfaces: string[];
  linkSpeedMbps: number;
  /** Matched firmware profile id; null means unprofiled (still listed, never placed on). */
  profileId: string | null;
  /** For a DPU: the DPU's own MAAS machine. */
  dpuSystemId: string | null;
}

/** A host with the devices ioplane can place on, as stored in the inventory. */
export interface FleetMachine extends Machine {
  devices: Device[];
  /** Agent endpoint for this host (from its first loopback/management address). */
  agentUrl: string | null;
  syncedAt: string;
}
