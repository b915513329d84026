import type { Machine, NetInterface, PciDevice } from '@ioplane/domain';
import type { RawInterface, RawMachine, RawPciDevice } from './maas.schemas';

const UNKNOWN = 'Unknown';

/** PCI ids as the profiles compare them: 4 lowercase hex digits, no 0x. */
export function normalisePciId(id: string): string {
  const hex = id.trim().toLowerCase().replace(/^0x/, '');
  return /^[0-9a-f]{1,4}$/.test(hex) ? hex.padStart(4, '0') : hex;
}

function numaIndex(value: RawPciDevice['numa_node']): number {
  if (typeof value === 'number') return value;
  if (value && typeof value === 'object') return value.index;
  return 0;
}

export function toNetInterface(raw: RawInterface): NetInterface {
  return {
    id: raw.id,
    name: raw.name,
    type: raw.type ?? 'unknown',
    macAddress: (raw.mac_address ?? '').toLowerCase(),
    vendor: raw.vendor ?? null,
    product: raw.product ?? null,
    firmwareVersion: raw.firmware_version || null,
    // link_speed is what was negotiated; interface_speed is the card's maximum
    linkSpeedMbps: raw.link_speed || raw.interface_speed || 0,
    numaNode: raw.numa_node ?? 0,
    enabled: raw.enabled ?? true,
    // What a placement's ingress selector reads: bond members, VLAN and fabric, tags, linked subnets.
    parents: [...(raw.parents ?? [])],
    children: [...(raw.children ?? [])],
    vlan: raw.vlan ? { vid: raw.vlan.vid ?? 0, fabric: raw.vlan.fabric ?? '' } : null,
    tags: [...(raw.tags ?? [])],
    subnets: (raw.links ?? []).flatMap((l) => (l.subnet?.cidr ? [l.subnet.cidr] : l.subnet?.name ? [l.subnet.name] : [])),
  };
}

/** Null when the device is not a PCI function (USB devices have no pci_address). */
export function toPciDevice(raw: RawPciDevice): PciDevice | null {
  if (!raw.pci_address) return null;
  const iface = raw.physical_interface;
  return {
    vendorId: normalisePciId(raw.vendor_id),
    productId: normalisePciId(raw.product_id),
    vendorName: raw.vendor_name ?? '',
    productName: raw.product_name ?? '',
    driver: raw.commissioning_driver || null,
    pciAddress: raw.pci_address,
    numaNode: numaIndex(raw.numa_node),
    interfaceName: typeof iface === 'string' ? iface || null : (iface?.name ?? null),
  };
}

export function toMachine(raw: RawMachine, pci: RawPciDevice[]): Machine {
  const hw = raw.hardware_info ?? {};
  const systemFamily = hw.system_family ?? UNKNOWN;
  return {
    systemId: raw.system_id,
    hostname: raw.hostname,
    fqdn: raw.fqdn ?? raw.hostname,
    zone: raw.zone?.name ?? '',
    pool: raw.pool?.name ?? '',
    tags: [...(raw.tag_names ?? [])],
    status: raw.status,
    statusName: raw.status_name ?? '',
    architecture: raw.architecture ?? '',
    cpuCount: raw.cpu_count ?? 0,
    memoryMiB: raw.memory ?? 0,
    powerState: raw.power_state ?? 'unknown',
    ipAddresses: [...(raw.ip_addresses ?? [])],
    parentSystemId: raw.parent?.system_id ?? null,
    // is_dpu only exists from MAAS 3.7; before that a BlueField is known by its system family
    isDpu: raw.is_dpu ?? systemFamily === 'BlueField',
    hardware: {
      systemVendor: hw.system_vendor ?? UNKNOWN,
      systemProduct: hw.system_product ?? UNKNOWN,
      systemFamily,
      cpuModel: hw.cpu_model ?? UNKNOWN,
    },
    interfaces: (raw.interface_set ?? []).map(toNetInterface),
    pciDevices: pci.map(toPciDevice).filter((d): d is PciDevice => d !== null),
    workloadAnnotations: { ...(raw.workload_annotations ?? raw.owner_data ?? {}) },
  };
}
