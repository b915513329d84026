import { createHash } from 'node:crypto';
import type { FleetFile, FleetHost, FleetServer } from './fleet-file';
import { DPU_MODELS, NIC_MODELS, type DpuModelKey, type NicModel } from '@ioplane/domain';
import { STATUS, statusFromName } from './maas-sim.status';

/**
 * The fleet as MAAS will show it, computed once from the fleet file. The simulator
 * serves it, and tests use it to compute the inventory they expect.
 */
export interface ModelInterface {
  id: number;
  name: string;
  macAddress: string;
  /** Catalog key: a NIC model (`connectx-7`) or a DPU model (`bluefield-3`); null for a port without PCI identity. */
  model: string | null;
  vendorId: string | null;
  productId: string | null;
  vendorName: string | null;
  productName: string | null;
  driver: string | null;
  firmwareVersion: string | null;
  pciAddress: string | null;
  numaNode: number;
  linkSpeedMbps: number;
  sriovMaxVf: number;
  /** Management address, only on the boot interface. */
  ipAddress: string | null;
  /** CIDR of the data subnet a non-boot uplink is linked to (MAAS shows it connected), else null. */
  dataSubnet: string | null;
  isBoot: boolean;
  /** On a host: the DPU machine behind this PCI function. */
  dpuSystemId: string | null;
}

export interface ModelMachine {
  systemId: string;
  hostname: string;
  fqdn: string;
  domain: string;
  zone: string;
  zoneIndex: number;
  pool: string;
  tags: string[];
  status: number;
  owner: string | null;
  architecture: string;
  cpuCount: number;
  cpuSpeedMHz: number;
  cpuModel: string;
  memoryMiB: number;
  storageBytes: number;
  numaNodes: number;
  powerType: string;
  description: string;
  distroSeries: string;
  hardware: {
    systemVendor: string;
    systemProduct: string;
    systemFamily: string;
    systemVersion: string;
    systemSerial: string;
    mainboardVendor: string;
    mainboardProduct: string;
    firmwareVendor: string;
    firmwareVersion: string;
    firmwareDate: string;
  };
  ipAddress: string;
  interfaces: ModelInterface[];
  isDpu: boolean;
  dpuModel: DpuModelKey | null;
  parentSystemId: string | null;
  dpuSystemIds: string[];
}

export interface ModelZone {
  id: number;
  name: string;
  description: string;
}
export interface ModelPool {
  id: number;
  name: string;
  description: string;
}
export interface ModelTag {
  name: string;
  comment: string;
  definition: string;
  kernelOpts: string;
}

export interface FleetModel {
  domain: string;
  user: string;
  zones: ModelZone[];
  pools: ModelPool[];
  tags: ModelTag[];
  /** Hosts and DPUs in fleet-file order (each host followed by its DPUs). */
  machines: ModelMachine[];
  hosts: ModelMachine[];
  dpus: ModelMachine[];
  timings: FleetFile['timings'];
}

const DEFAULT_SERVER: FleetServer = {
  vendor: 'Supermicro',
  product: 'SYS-1029U-TRT',
  family: 'SMC X11',
  cpuModel: 'Intel(R) Xeon(R) Gold 6230R CPU @ 2.10GHz',
  cores: 52,
  mhz: 2100,
  memoryGiB: 192,
  sockets: 2,
  diskGB: 960,
  powerType: 'ipmi',
};

/** PCIe bus numbers per slot, spread the way a two-socket board spreads them. */
const SLOT_BUSES = [0x17, 0x31, 0x4b, 0x65, 0x98, 0xb1, 0xca, 0xe3];
const ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Six lowercase alphanumerics derived from the hostname, so ids survive restarts and tests can name them. */
export function systemIdFor(hostname: string): string {
  const bytes = digest(`maas-system-id:${hostname}`);
  let id = '';
  for (let i = 0; id.length < 6; i++) id += ID_ALPHABET[bytes[i] % ID_ALPHABET.length];
  return id;
}

function macFor(oui: string, seed: string): string {
  const b = digest(`mac:${seed}`);
  return `${oui}:${[b[0], b[1], b[2]].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
}

function serialFor(seed: string, prefix: string): string {
  return prefix + digest(`serial:${seed}`).toString('hex').slice(0, 10).toUpperCase();
}

const NEEDS_OWNER = new Set<number>([STATUS.ALLOCATED, STATUS.DEPLOYED, STATUS.FAILED_DEPLOYMENT]);

export function buildFleetModel(file: FleetFile): FleetModel {
  const zones: ModelZone[] = file.zones.map((z, i) => ({ id: i + 1, name: z.name, description: z.description }));
  const pools: ModelPool[] = file.pools.map((p, i) => ({ id: i + 1, name: p.name, description: p.description }));
  const zoneIndex = new Map(zones.map((z) => [z.name, z.id]));
  const hostCount = new Map<string, number>();
  const dpuCount = new Map<string, number>();
  const seenIds = new Map<string, string>();
  let nextInterfaceId = 1;
  const machines: ModelMachine[] = [];
  const hosts: ModelMachine[] = [];
  const dpus: ModelMachine[] = [];

  const register = (hostname: string) => {
    const id = systemIdFor(hostname);
    const other = seenIds.get(id);
    if (other) throw new Error(`system_id collision between '${other}' and '${hostname}'; rename one of them`);
    seenIds.set(id, hostname);
    return id;
  };

  const ownerFor = (status: number, h: FleetHost) => (NEEDS_OWNER.has(status) ? (h.owner ?? file.defaults.owner ?? file.user) : null);

  const port = (
    nic: NicModel,
    model: string,
    name: string,
    seed: string,
    pciAddress: string | null,
    numaNode: number,
    firmware: string | null,
  ): ModelInterface => ({
    id: nextInterfaceId++,
    name,
    macAddress: macFor(nic.oui, seed),
    model,
    vendorId: nic.vendorId,
    productId: nic.productId,
    vendorName: nic.vendorName,
    productName: nic.productName,
    driver: nic.driver,
    firmwareVersion: firmware ?? nic.firmwareVersion,
    pciAddress,
    numaNode,
    linkSpeedMbps: nic.linkSpeedMbps,
    sriovMaxVf: nic.sriovMaxVf,
    ipAddress: null,
    dataSubnet: null,
    isBoot: false,
    dpuSystemId: null,
  });

  for (const h of file.hosts) {
    const srv = file.servers[h.server ?? file.defaults.server ?? ''] ?? DEFAULT_SERVER;
    const zIdx = zoneIndex.get(h.zone)!;
    const n = (hostCount.get(h.zone) ?? 0) + 1;
    hostCount.set(h.zone, n);
    const status = statusFromName(h.status ?? file.defaults.status)!;
    const systemId = register(h.hostname);
    const interfaces: ModelInterface[] = [];
    let slot = 0;
    const slotInfo = () => {
      slot += 1;
      // Cards alternate between sockets, so a two-socket host has NICs on both NUMA nodes.
      const numa = (slot - 1) % srv.sockets;
      const bus = SLOT_BUSES[(numa * 4 + (Math.floor((slot - 1) / srv.sockets) % 4)) % SLOT_BUSES.length];
      return { slot, bus: bus.toString(16).padStart(2, '0'), numa };
    };
    for (const nic of h.nics) {
      const m = NIC_MODELS[nic.model];
      const s = slotInfo();
      const ports = nic.ports ?? m.ports;
      for (let p = 0; p < ports; p++) {
        interfaces.push(
          port(m, nic.model, `ens${s.slot}f${p}`, `${h.hostname}/${s.slot}/${p}`, `0000:${s.bus}:00.${p}`, s.numa, nic.firmware ?? null),
        );
      }
    }
    const dpuMachines: ModelMachine[] = [];
    h.dpus.forEach((d, j) => {
      const dm = DPU_MODELS[d.model];
      const s = slotInfo();
      const dpuHostname = `${h.hostname}-dpu${j}`;
      const dpuId = register(dpuHostname);
      for (let p = 0; p < dm.nic.ports; p++) {
        const iface = port(
          dm.nic,
          d.model,
          `ens${s.slot}f${p}np${p}`,
          `${h.hostname}/${s.slot}/${p}`,
          `0000:${s.bus}:00.${p}`,
          s.numa,
          d.firmware ?? null,
        );
        iface.dpuSystemId = dpuId;
        interfaces.push(iface);
      }
      const k = (dpuCount.get(h.zone) ?? 0) + 1;
      dpuCount.set(h.zone, k);
      const dpuStatus = statusFromName(d.status ?? h.status ?? file.defaults.status)!;
      const oob: ModelInterface = {
        id: nextInterfaceId++,
        name: 'oob_net0',
        macAddress: macFor(dm.nic.oui, `${dpuHostname}/oob`),
        model: null,
        vendorId: null,
        productId: null,
        vendorName: null,
        productName: null,
        driver: 'mlxbf_gige',
        firmwareVersion: null,
        pciAddress: null,
        numaNode: 0,
        linkSpeedMbps: 1000,
        sriovMaxVf: 0,
        ipAddress: `127.77.${zIdx}.${100 + k}`,
        dataSubnet: null,
        isBoot: true,
        dpuSystemId: null,
      };
      const dpuPorts = [0, 1].map((p) => port(dm.nic, d.model, `p${p}`, `${dpuHostname}/p${p}`, `0000:03:00.${p}`, 0, d.firmware ?? null));
      dpuMachines.push({
        systemId: dpuId,
        hostname: dpuHostname,
        fqdn: `${dpuHostname}.${file.domain}`,
        domain: file.domain,
        zone: h.zone,
        zoneIndex: zIdx,
        pool: h.pool,
        tags: [...new Set([...(d.tags ?? file.defaults.dpuTags)])],
        status: dpuStatus,
        owner: ownerFor(dpuStatus, h),
        architecture: 'arm64/generic',
        cpuCount: dm.cpuCount,
        cpuSpeedMHz: dm.cpuSpeedMHz,
        cpuModel: dm.cpuModel,
        memoryMiB: dm.memoryMiB,
        storageBytes: dm.storageBytes,
        numaNodes: 1,
        powerType: 'redfish',
        description: `${d.model} in ${h.hostname}`,
        distroSeries: file.defaults.distroSeries,
        hardware: {
          systemVendor: 'https://www.mellanox.com',
          systemProduct: dm.systemProduct,
          systemFamily: 'BlueField',
          systemVersion: dm.systemVersion,
          systemSerial: serialFor(dpuHostname, 'MT'),
          mainboardVendor: 'https://www.mellanox.com',
          mainboardProduct: dm.systemProduct,
          firmwareVendor: 'https://www.mellanox.com',
          firmwareVersion: d.model === 'bluefield-3' ? '4.7.0-26-g4b6e1b9' : '4.2.2-12-g2a8b4b1',
          firmwareDate: '01/01/2024',
        },
        ipAddress: oob.ipAddress!,
        interfaces: [oob, ...dpuPorts],
        isDpu: true,
        dpuModel: d.model,
        parentSystemId: systemId,
        dpuSystemIds: [],
      });
    });
    const boot = interfaces[0];
    boot.isBoot = true;
    boot.ipAddress = `127.77.${zIdx}.${n}`;
    for (const u of h.uplinks) {
      const i = interfaces.find((x) => x.name === u);
      if (!i) throw new Error(`host ${h.hostname}: uplink ${u} is none of its interfaces (${interfaces.map((x) => x.name).join(', ')})`);
      // Data traffic arrives on its own subnet per zone; the placement's default ingress takes every linked interface.
      if (!i.isBoot) i.dataSubnet = `10.77.${zIdx}.0/24`;
    }
    const machine: ModelMachine = {
      systemId,
      hostname: h.hostname,
      fqdn: `${h.hostname}.${file.domain}`,
      domain: file.domain,
      zone: h.zone,
      zoneIndex: zIdx,
      pool: h.pool,
      tags: [...new Set(h.tags)],
      status,
      owner: ownerFor(status, h),
      architecture: 'amd64/generic',
      cpuCount: h.cores ?? srv.cores,
      cpuSpeedMHz: srv.mhz,
      cpuModel: srv.cpuModel,
      memoryMiB: Math.round((h.memoryGiB ?? srv.memoryGiB) * 1024),
      storageBytes: srv.diskGB * 1_000_000_000,
      numaNodes: srv.sockets,
      powerType: srv.powerType,
      description: h.description,
      distroSeries: file.defaults.distroSeries,
      hardware: {
        systemVendor: srv.vendor,
        systemProduct: srv.product,
        systemFamily: srv.family,
        systemVersion: 'Unknown',
        systemSerial: serialFor(h.hostname, ''),
        mainboardVendor: srv.vendor,
        mainboardProduct: srv.product,
        firmwareVendor: srv.vendor === 'Dell Inc.' ? 'Dell Inc.' : 'American Megatrends Inc.',
        firmwareVersion: '2.14.1',
        firmwareDate: '03/12/2024',
      },
      ipAddress: boot.ipAddress,
      interfaces,
      isDpu: false,
      dpuModel: null,
      parentSystemId: null,
      dpuSystemIds: dpuMachines.map((d) => d.systemId),
    };
    machines.push(machine, ...dpuMachines);
    hosts.push(machine);
    dpus.push(...dpuMachines);
  }

  return {
    domain: file.domain,
    user: file.user,
    zones,
    pools,
    tags: file.tags.map((t) => ({ name: t.name, comment: t.comment, definition: t.definition, kernelOpts: t.kernelOpts })),
    machines,
    hosts,
    dpus,
    timings: file.timings,
  };
}
