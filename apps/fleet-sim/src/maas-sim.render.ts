import { createHash } from 'node:crypto';
import type { ModelInterface } from './fleet-model';
import { NVME_CONTROLLER } from '@ioplane/domain';
import { STATUS, statusLabel } from './maas-sim.status';
import type { MaasSimStore, SimMachine } from './maas-sim.store';

/** JSON shapes exactly as MAAS 3.5 serialises them (field names, nesting, `__incomplete__` references). */
export const API_PREFIX = '/MAAS/api/2.0/';
type Json = Record<string, unknown>;

export function renderZone(z: { id: number; name: string; description: string }): Json {
  return { name: z.name, description: z.description, id: z.id, resource_uri: `${API_PREFIX}zones/${encodeURIComponent(z.name)}/` };
}

export function renderPool(p: { id: number; name: string; description: string }): Json {
  return { name: p.name, description: p.description, id: p.id, resource_uri: `${API_PREFIX}resourcepool/${p.id}/` };
}

export function renderTag(t: { name: string; comment: string; definition: string; kernelOpts: string }): Json {
  return {
    name: t.name,
    definition: t.definition,
    comment: t.comment,
    kernel_opts: t.kernelOpts,
    resource_uri: `${API_PREFIX}tags/${encodeURIComponent(t.name)}/`,
  };
}

function subnet(m: SimMachine): Json {
  const z = m.model.zoneIndex;
  return {
    name: `127.77.${z}.0/24`,
    description: '',
    vlan: vlan(m),
    cidr: `127.77.${z}.0/24`,
    rdns_mode: 2,
    gateway_ip: `127.77.${z}.254`,
    dns_servers: [],
    allow_dns: true,
    allow_proxy: true,
    active_discovery: false,
    managed: true,
    disabled_boot_architectures: [],
    space: 'undefined',
    id: z,
    resource_uri: `${API_PREFIX}subnets/${z}/`,
  };
}

function vlan(m: SimMachine): Json {
  const z = m.model.zoneIndex;
  return {
    vid: 0,
    mtu: 1500,
    dhcp_on: true,
    external_dhcp: null,
    relay_vlan: null,
    fabric: `fabric-${z}`,
    space: 'undefined',
    primary_rack: 'rk7hcq',
    secondary_rack: null,
    name: 'untagged',
    fabric_id: z,
    id: 5000 + z,
    resource_uri: `${API_PREFIX}vlans/${5000 + z}/`,
  };
}

export function renderInterface(m: SimMachine, i: ModelInterface): Json {
  const links = i.ipAddress
    ? [{ id: i.id, mode: 'static', ip_address: i.ipAddress, subnet: subnet(m) }]
    : i.dataSubnet
      ? [
          {
            id: i.id,
            mode: 'auto',
            subnet: {
              ...subnet(m),
              name: i.dataSubnet,
              cidr: i.dataSubnet,
              gateway_ip: null,
              id: 100 + m.model.zoneIndex,
              resource_uri: `${API_PREFIX}subnets/${100 + m.model.zoneIndex}/`,
            },
          },
        ]
      : [{ id: i.id, mode: 'link_up' }];
  return {
    id: i.id,
    name: i.name,
    type: 'physical',
    vlan: vlan(m),
    mac_address: i.macAddress,
    parents: [],
    children: [],
    tags: i.sriovMaxVf > 0 ? ['sriov'] : [],
    enabled: true,
    links,
    params: '',
    discovered: null,
    effective_mtu: 1500,
    system_id: m.systemId,
    firmware_version: i.firmwareVersion,
    product: i.productName,
    vendor: i.vendorName,
    link_connected: true,
    interface_speed: i.linkSpeedMbps,
    link_speed: i.linkSpeedMbps,
    numa_node: i.numaNode,
    sriov_max_vf: i.sriovMaxVf,
    resource_uri: `${API_PREFIX}nodes/${m.systemId}/interfaces/${i.id}/`,
  };
}

function blockDevice(m: SimMachine): Json {
  const id = m.model.interfaces[0].id * 10;
  const size = m.model.storageBytes;
  const serial = `S${m.model.hardware.systemSerial}NVME`;
  return {
    id,
    name: 'nvme0n1',
    type: 'physical',
    model: m.model.isDpu ? 'eMMC' : 'SAMSUNG MZ1L2960HCJR-00A07',
    serial,
    id_path: `/dev/disk/by-id/nvme-${serial}`,
    path: '/dev/disk/by-dname/nvme0n1',
    size,
    block_size: 512,
    tags: ['ssd'],
    uuid: null,
    storage_pool: null,
    used_for: 'GPT partitioned with 2 partitions',
    used_size: size - 1_048_576,
    available_size: 1_048_576,
    partition_table_type: 'GPT',
    partitions: [],
    filesystem: null,
    numa_node: 0,
    firmware_version: 'GDC7302Q',
    system_id: m.systemId,
    resource_uri: `${API_PREFIX}nodes/${m.systemId}/blockdevices/${id}/`,
  };
}

/** PCI inventory (`nodes/{id}/devices/`): NIC functions, then the boot disk controller. */
export function renderDevices(m: SimMachine): Json[] {
  const out: Json[] = [];
  let id = m.model.interfaces[0].id * 10;
  for (const i of m.model.interfaces) {
    if (!i.vendorId || !i.pciAddress) continue;
    const [, bus, devfn] = i.pciAddress.split(':');
    out.push({
      id: ++id,
      bus: 1,
      hardware_type: 4,
      system_id: m.systemId,
      vendor_id: i.vendorId,
      product_id: i.productId,
      vendor_name: i.vendorName,
      product_name: i.productName,
      commissioning_driver: i.driver,
      bus_number: parseInt(bus, 16),
      device_number: parseInt(devfn.split('.')[0], 16),
      pci_address: i.pciAddress,
      numa_node: i.numaNode,
      physical_interface: renderInterface(m, i),
      physical_blockdevice: null,
      resource_uri: `${API_PREFIX}nodes/${m.systemId}/devices/${id}/`,
    });
  }
  const nvme = m.model.isDpu ? null : NVME_CONTROLLER;
  if (nvme) {
    out.push({
      id: ++id,
      bus: 1,
      hardware_type: 3,
      system_id: m.systemId,
      vendor_id: nvme.vendorId,
      product_id: nvme.productId,
      vendor_name: nvme.vendorName,
      product_name: nvme.productName,
      commissioning_driver: nvme.driver,
      bus_number: 1,
      device_number: 0,
      pci_address: '0000:01:00.0',
      numa_node: 0,
      physical_interface: null,
      physical_blockdevice: blockDevice(m),
      resource_uri: `${API_PREFIX}nodes/${m.systemId}/devices/${id}/`,
    });
  }
  return out;
}

function numaNodes(m: SimMachine): Json[] {
  const n = m.model.numaNodes;
  const per = Math.floor(m.model.cpuCount / n);
  return Array.from({ length: n }, (_, index) => ({
    index,
    memory: Math.floor(m.model.memoryMiB / n),
    cores: Array.from({ length: per }, (_, c) => index * per + c),
    hugepages_set: [],
  }));
}

function statusSummary(): { status: number; status_name: string } {
  // 2 = passed; the simulated hardware always commissions cleanly.
  return { status: 2, status_name: 'Passed' };
}

function hardwareUuid(systemId: string): string {
  const h = createHash('sha256').update(`uuid:${systemId}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

export function renderMachine(store: MaasSimStore, m: SimMachine): Json {
  const mm = m.model;
  const zone = store.zones.get(m.zone)!;
  const pool = store.pools.get(m.pool)!;
  const interfaces = mm.interfaces.map((i) => renderInterface(m, i));
  const boot = interfaces[mm.interfaces.findIndex((i) => i.isBoot)] ?? interfaces[0];
  const disk = blockDevice(m);
  const passed = statusSummary();
  const h = mm.hardware;
  const owned = m.owner !== null;
  return {
    system_id: m.systemId,
    hostname: m.hostname,
    description: m.description,
    hardware_uuid: hardwareUuid(m.systemId),
    domain: {
      authoritative: true,
      ttl: null,
      resource_record_count: 0,
      name: mm.domain,
      is_default: true,
      id: 0,
      resource_uri: `${API_PREFIX}domains/0/`,
    },
    fqdn: `${m.hostname}.${mm.domain}`,
    owner: m.owner,
    owner_data: { ...m.annotations },
    workload_annotations: { ...m.annotations },
    locked: m.locked,
    architecture: mm.architecture,
    min_hwe_kernel: '',
    hwe_kernel: m.osystem ? 'ga-22.04' : null,
    cpu_count: mm.cpuCount,
    cpu_speed: mm.cpuSpeedMHz,
    memory: mm.memoryMiB,
    swap_size: null,
    storage: mm.storageBytes / 1_000_000,
    status: m.status,
    status_name: statusLabel(m.status),
    status_message: m.statusMessage,
    status_action: '',
    error_description: m.errorDescription,
    osystem: m.osystem,
    distro_series: m.distroSeries,
    netboot: m.status !== STATUS.DEPLOYED,
    ephemeral_deploy: false,
    power_type: mm.powerType,
    power_state: m.powerState,
    tag_names: [...m.tags].sort(),
    address_ttl: null,
    ip_addresses: [mm.ipAddress],
    interface_set: interfaces,
    boot_interface: boot,
    default_gateways: {
      ipv4: { gateway_ip: `127.77.${mm.zoneIndex}.254`, link_id: null },
      ipv6: { gateway_ip: null, link_id: null },
    },
    zone: renderZone(zone),
    pool: renderPool(pool),
    blockdevice_set: [disk],
    physicalblockdevice_set: [disk],
    virtualblockdevice_set: [],
    boot_disk: disk,
    iscsiblockdevice_set: [],
    raids: [],
    bcaches: [],
    cache_sets: [],
    volume_groups: [],
    special_filesystems: [],
    node_type: 0,
    node_type_name: 'Machine',
    parent: mm.parentSystemId
      ? { system_id: mm.parentSystemId, resource_uri: `${API_PREFIX}machines/${mm.parentSystemId}/`, __incomplete__: true }
      : null,
    pod: null,
    virtualmachine_id: null,
    is_dpu: mm.isDpu,
    bios_boot_method: 'uefi',
    enable_hw_sync: false,
    last_sync: null,
    sync_interval: null,
    next_sync: null,
    commissioning_status: passed.status,
    commissioning_status_name: passed.status_name,
    testing_status: passed.status,
    testing_status_name: passed.status_name,
    cpu_test_status: -1,
    cpu_test_status_name: 'Unknown',
    memory_test_status: -1,
    memory_test_status_name: 'Unknown',
    network_test_status: -1,
    network_test_status_name: 'Unknown',
    storage_test_status: passed.status,
    storage_test_status_name: passed.status_name,
    interface_test_status: -1,
    interface_test_status_name: 'Unknown',
    other_test_status: -1,
    other_test_status_name: 'Unknown',
    current_commissioning_result_id: mm.interfaces[0].id * 100 + 1,
    current_testing_result_id: mm.interfaces[0].id * 100 + 2,
    current_installation_result_id: owned ? mm.interfaces[0].id * 100 + 3 : null,
    hardware_info: {
      system_vendor: h.systemVendor,
      system_product: h.systemProduct,
      system_family: h.systemFamily,
      system_version: h.systemVersion,
      system_sku: 'Unknown',
      system_serial: h.systemSerial,
      cpu_model: mm.cpuModel,
      mainboard_vendor: h.mainboardVendor,
      mainboard_product: h.mainboardProduct,
      mainboard_serial: `${h.systemSerial}MB`,
      mainboard_version: 'Unknown',
      mainboard_firmware_vendor: h.firmwareVendor,
      mainboard_firmware_date: h.firmwareDate,
      mainboard_firmware_version: h.firmwareVersion,
      chassis_vendor: h.systemVendor,
      chassis_type: mm.isDpu ? 'Unknown' : 'Rack Mount Chassis',
      chassis_serial: h.systemSerial,
      chassis_version: 'Unknown',
    },
    numanode_set: numaNodes(m),
    resource_uri: `${API_PREFIX}machines/${m.systemId}/`,
  };
}
