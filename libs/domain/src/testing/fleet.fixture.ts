import type { DeviceKind } from '../target';
import type { Device, FleetMachine, NetInterface, PciDevice } from '../machine';
import { DPU_MODELS, NIC_MODELS, type NicModel } from '../hardware.models';

/**
 * Inventory fixtures for specs: machines, cards and fleets in the shapes a MAAS sync stores.
 * Cards carry the PCI identities and firmware strings of the hardware table (hardware.models.ts), so the
 * firmware profiles (firmware-profiles/*.yaml) match them as they would a real card; names follow
 * the simulator's scheme (ens<slot>f<port>, a BlueField's host PF ens<slot>f<port>np<port>).
 */
type CardModel = Pick<
  NicModel,
  'vendorId' | 'productId' | 'vendorName' | 'productName' | 'driver' | 'firmwareVersion' | 'linkSpeedMbps' | 'ports'
> & {
  kind: DeviceKind;
  /** The profile firmware-profiles/ matches for this card at this firmware; null: unprofiled. */
  profileId: string | null;
  /** A BlueField: its host PFs are named ...np<port> and the card is also a MAAS machine of its own. */
  bluefield?: true;
};

/** A card of the hardware table as a spec sees it: its kind and the profile that matches it. */
function card<K extends DeviceKind, P extends string | null>(model: NicModel, kind: K, profileId: P) {
  const { vendorId, productId, vendorName, productName, driver, firmwareVersion, linkSpeedMbps, ports } = model;
  return { kind, profileId, vendorId, productId, vendorName, productName, driver, firmwareVersion, linkSpeedMbps, ports };
}

export const CARDS = {
  'intel-x710': card(NIC_MODELS['intel-x710'], 'nic', 'intel-x710-9.20'),
  'intel-e810': card(NIC_MODELS['intel-e810'], 'nic', 'intel-e810-4.20'),
  bcm57414: card(NIC_MODELS.bcm57414, 'nic', null),
  'connectx-6dx': card(NIC_MODELS['connectx-6dx'], 'smartnic', 'mellanox-connectx-6dx-22.39'),
  'connectx-7': card(NIC_MODELS['connectx-7'], 'smartnic', 'mellanox-connectx-7-28.39'),
  'agilio-cx-bpf': card(NIC_MODELS['agilio-cx-bpf'], 'smartnic', 'netronome-agilio-cx-bpf-2.1'),
  'agilio-cx-flower': card(NIC_MODELS['agilio-cx-flower'], 'smartnic', 'netronome-agilio-cx-flower-2.1'),
  'agilio-cx-nic': card(NIC_MODELS['agilio-cx-nic'], 'smartnic', 'netronome-agilio-cx-nic-2.1'),
  'pensando-dsc25': card(NIC_MODELS['pensando-dsc25'], 'dpu', 'pensando-dsc-25-1.28'),
  'bluefield-2': { ...card(DPU_MODELS['bluefield-2'].nic, 'dpu', 'nvidia-bluefield-2-24.35'), bluefield: true as const },
  'bluefield-3': { ...card(DPU_MODELS['bluefield-3'].nic, 'dpu', 'nvidia-bluefield-3-32.39'), bluefield: true as const },
} satisfies Record<string, CardModel>;

export type CardModelKey = keyof typeof CARDS;

/** The card a spec gets when it names a kind: a plain NIC, a SmartNIC with flow offload, a BlueField DPU. */
const BY_KIND: Record<DeviceKind, CardModelKey> = { nic: 'intel-x710', smartnic: 'connectx-7', dpu: 'bluefield-3' };

export interface DeviceOptions extends Partial<Device> {
  /** The host's systemId (machineSystemId), `h1` unless given. */
  machine?: string;
  /** PCI slot: names ens<slot>f<port> and PCI bus <slot>; 1 unless given. */
  slot?: number;
  /** Ports (PCI functions with a netdev) to list; the model's count unless given. */
  ports?: number;
}

function modelOf(variant: DeviceKind | CardModelKey): CardModel {
  return CARDS[variant in BY_KIND ? BY_KIND[variant as DeviceKind] : (variant as CardModelKey)];
}

/** The card model a firmware profile matches: `device(cardOf(profile.id), ...)` gives a card of that profile. */
export function cardOf(profileId: string): CardModelKey {
  const key = (Object.keys(CARDS) as CardModelKey[]).find((k) => CARDS[k].profileId === profileId);
  if (!key)
    throw new Error(
      `no fixture card matches profile ${profileId}; known: ${Object.values(CARDS)
        .map((c) => c.profileId)
        .join(', ')}`,
    );
  return key;
}

/** A DPU's systemId when the spec names none: one per host and slot. */
export function dpuSystemIdOf(machine: string, slot: number): string {
  return `${machine}-dpu${slot}`;
}

/**
 * One network card of a host, as detectDevices makes it: `device('nic' | 'smartnic' | 'dpu')` or a
 * card model (`device('agilio-cx-bpf', { slot: 2 })`), overrides last. A BlueField names the
 * DPU machine it is (dpuSystemId).
 */
export function device(variant: DeviceKind | CardModelKey = 'nic', over: DeviceOptions = {}): Device {
  const { machine = over.machineSystemId ?? 'h1', slot = 1, ports, ...rest } = over;
  const m = modelOf(variant);
  const n = ports ?? m.ports;
  const interfaces = Array.from({ length: n }, (_, p) => (m.bluefield ? `ens${slot}f${p}np${p}` : `ens${slot}f${p}`));
  const name = rest.name ?? interfaces[0];
  return {
    id: `${machine}/${name}`,
    machineSystemId: machine,
    kind: m.kind,
    name,
    vendorId: m.vendorId,
    productId: m.productId,
    vendorName: m.vendorName,
    productName: m.productName,
    firmwareVersion: m.firmwareVersion,
    driver: m.driver,
    pciAddress: `0000:${slot.toString(16).padStart(2, '0')}:00.0`,
    interfaces,
    linkSpeedMbps: m.linkSpeedMbps * n,
    profileId: m.profileId,
    dpuSystemId: m.bluefield ? dpuSystemIdOf(machine, slot) : null,
    ...rest,
  };
}

/** A MAAS interface; a physical port on the default fabric unless overridden. */
export function netInterface(name: string, over: Partial<NetInterface> = {}): NetInterface {
  return {
    id: 1,
    name,
    type: 'physical',
    macAddress: macOf(name),
    vendor: null,
    product: null,
    firmwareVersion: null,
    linkSpeedMbps: 25_000,
    numaNode: 0,
    enabled: true,
    parents: [],
    children: [],
    vlan: { vid: 0, fabric: 'fabric-0' },
    tags: [],
    subnets: [],
    ...over,
  };
}

function macOf(seed: string): string {
  let h = 0;
  for (const c of seed) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return `02:00:${[24, 16, 8, 0].map((s) => ((h >>> s) & 0xff).toString(16).padStart(2, '0')).join(':')}`;
}

/** The data subnet fixtures link uplinks to. */
export const DATA_SUBNET = '10.0.0.0/24';

export interface MachineOptions extends Partial<FleetMachine> {
  /** Cards in slot order (slot 1, 2, ...): a kind, a card model, or a ready Device. Ignored when `devices` is given. */
  cards?: Array<DeviceKind | CardModelKey | Device>;
  /**
   * Interfaces MAAS shows linked to the data subnet (a placement's default ingress); the first
   * card's first port unless given.
   */
  uplinks?: string[];
}

/** The interfaces and PCI functions MAAS reports for a host's cards: what detectDevices reads them back from. */
function hardwareOf(devices: Device[], uplinks: readonly string[]): { interfaces: NetInterface[]; pciDevices: PciDevice[] } {
  const interfaces: NetInterface[] = [];
  const pciDevices: PciDevice[] = [];
  for (const d of devices) {
    const bus = d.pciAddress?.replace(/\.[0-7]$/, '');
    d.interfaces.forEach((name, p) => {
      interfaces.push(
        netInterface(name, {
          id: 100 + interfaces.length,
          vendor: d.vendorName,
          product: d.productName,
          firmwareVersion: d.firmwareVersion,
          linkSpeedMbps: d.interfaces.length ? Math.round(d.linkSpeedMbps / d.interfaces.length) : 0,
          subnets: uplinks.includes(name) ? [DATA_SUBNET] : [],
        }),
      );
      if (bus && d.vendorId && d.productId) {
        pciDevices.push({
          vendorId: d.vendorId,
          productId: d.productId,
          vendorName: d.vendorName ?? '',
          productName: d.productName ?? '',
          driver: d.driver,
          pciAddress: `${bus}.${p}`,
          numaNode: 0,
          interfaceName: name,
        });
      }
    });
  }
  return { interfaces, pciDevices };
}

/**
 * A Deployed host of the inventory: `machine({ systemId: 'h1', cards: ['nic', 'bluefield-3'] })`.
 * Its interfaces and PCI functions are derived from its devices unless given, so the devices are
 * what a sync would detect on it.
 */
export function machine(over: MachineOptions = {}): FleetMachine {
  const { cards, uplinks, ...rest } = over;
  const systemId = rest.systemId ?? 'h1';
  const hostname = rest.hostname ?? `host-${systemId}`;
  const devices =
    rest.devices ?? (cards ?? ['nic']).map((c, i) => (typeof c === 'string' ? device(c, { machine: systemId, slot: i + 1 }) : c));
  const hw = hardwareOf(devices, uplinks ?? devices.flatMap((d) => d.interfaces).slice(0, 1));
  const ip = rest.ipAddresses?.[0] ?? '127.77.1.1';
  return {
    systemId,
    hostname,
    fqdn: `${hostname}.maas`,
    zone: 'zone-a',
    pool: 'edge',
    tags: [],
    status: 6,
    statusName: 'Deployed',
    architecture: 'amd64/generic',
    cpuCount: 64,
    memoryMiB: 262_144,
    powerState: 'on',
    ipAddresses: [ip],
    parentSystemId: null,
    isDpu: false,
    hardware: {
      systemVendor: 'Dell Inc.',
      systemProduct: 'PowerEdge R650',
      systemFamily: 'PowerEdge',
      cpuModel: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz',
    },
    interfaces: hw.interfaces,
    pciDevices: hw.pciDevices,
    workloadAnnotations: {},
    devices,
    agentUrl: `http://${ip}:9440`,
    syncedAt: '2026-01-01T00:00:00.000Z',
    ...rest,
  };
}

/**
 * The MAAS machine a host's BlueField is: an arm64 child of the host, managed on oob_net0, with
 * the card's uplinks p0/p1 and the host representors pf0hpf/pf1hpf. Its own device is the card
 * seen from the Arm side (no DPU below it); it runs no agent of the host's.
 */
export function dpuMachine(host: FleetMachine, card: Device, over: Partial<FleetMachine> = {}): FleetMachine {
  if (!card.dpuSystemId) throw new Error(`dpuMachine: ${card.id} is not a BlueField with a DPU machine`);
  const systemId = card.dpuSystemId;
  const hostname = `${host.hostname}-dpu${Math.max(
    0,
    host.devices.filter((d) => d.dpuSystemId).findIndex((d) => d.id === card.id),
  )}`;
  const own = device(modelKeyOf(card), {
    machine: systemId,
    name: 'p0',
    interfaces: ['p0', 'p1'],
    pciAddress: '0000:03:00.0',
    dpuSystemId: null,
    slot: 3,
  });
  const hw = hardwareOf([own], []);
  const ip = '127.77.1.101';
  return machine({
    systemId,
    hostname,
    zone: host.zone,
    pool: host.pool,
    tags: ['dpu'],
    architecture: 'arm64/generic',
    cpuCount: 16,
    memoryMiB: 32_768,
    ipAddresses: [ip],
    parentSystemId: host.systemId,
    isDpu: true,
    hardware: {
      systemVendor: 'https://www.mellanox.com',
      systemProduct: 'BlueField-3 DPU',
      systemFamily: 'BlueField',
      cpuModel: 'Cortex-A78AE',
    },
    interfaces: [
      netInterface('oob_net0', { id: 99, linkSpeedMbps: 1000, subnets: ['127.77.1.0/24'] }),
      ...hw.interfaces,
      netInterface('pf0hpf', { id: 110 }),
      netInterface('pf1hpf', { id: 111 }),
    ],
    pciDevices: hw.pciDevices,
    devices: [own],
    agentUrl: null,
    ...over,
  });
}

function modelKeyOf(card: Device): CardModelKey {
  const key = (Object.keys(CARDS) as CardModelKey[]).find(
    (k) => CARDS[k].vendorId === card.vendorId && CARDS[k].productId === card.productId,
  );
  if (!key) throw new Error(`no fixture card model for ${card.vendorId}:${card.productId}`);
  return key;
}

/**
 * A fleet as the inventory lists it: hosts in the order added, each BlueField's DPU machine after
 * its host. `fleet().host({ cards: ['nic'] }).host({ zone: 'zone-b', cards: ['bluefield-3'] }).build()`.
 */
export class FleetBuilder {
  private readonly machines: FleetMachine[] = [];
  private hosts = 0;

  host(over: MachineOptions = {}): this {
    const n = ++this.hosts;
    const h = machine({ systemId: `h${n}`, hostname: `edge-${String(n).padStart(2, '0')}`, ipAddresses: [`127.77.1.${n}`], ...over });
    this.machines.push(h);
    if (!h.isDpu) for (const d of h.devices.filter((x) => x.kind === 'dpu' && x.dpuSystemId)) this.machines.push(dpuMachine(h, d));
    return this;
  }

  build(): FleetMachine[] {
    return [...this.machines];
  }
}

export function fleet(): FleetBuilder {
  return new FleetBuilder();
}
