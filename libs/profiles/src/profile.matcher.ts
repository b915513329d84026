import { Device, FirmwareProfile, Machine, PciDevice } from '@ioplane/domain';

export interface HardwareIdentity {
  vendorId: string;
  productId: string;
  firmwareVersion: string | null;
}

/**
 * The profile for a PCI function (hardware-ids.md): vendor id equal, product id listed, and
 * firmwareVersions empty or one of them a prefix of the firmware version. Hex compares
 * case-insensitively. Among several matches the longest prefix wins (an empty list counts
 * as length 0); ties go to the smallest id so the answer does not depend on input order.
 */
export function matchProfile(profiles: readonly FirmwareProfile[], hw: HardwareIdentity): FirmwareProfile | null {
  const vendorId = hw.vendorId.trim().toLowerCase();
  const productId = hw.productId.trim().toLowerCase();
  let best: FirmwareProfile | null = null;
  let bestLen = -1;
  for (const p of profiles) {
    if (p.pci.vendorId.toLowerCase() !== vendorId) continue;
    if (!p.pci.productIds.some((id) => id.toLowerCase() === productId)) continue;
    let len: number;
    if (p.firmwareVersions.length === 0) len = 0;
    else {
      const fw = hw.firmwareVersion;
      const hits = fw === null ? [] : p.firmwareVersions.filter((prefix) => fw.startsWith(prefix));
      if (hits.length === 0) continue;
      len = Math.max(...hits.map((h) => h.length));
    }
    if (len > bestLen || (len === bestLen && best !== null && p.id < best.id)) {
      best = p;
      bestLen = len;
    }
  }
  return best;
}

/**
 * All firmware flavours of the hardware `id` belongs to (itself included), sorted by id.
 * flavourOf names the family's base profile, so the family is the base plus every profile
 * pointing at it; moving between members means flashing other firmware.
 */
export function flavoursOf(profiles: readonly FirmwareProfile[], id: string): FirmwareProfile[] {
  const self = profiles.find((p) => p.id === id);
  if (!self) return [];
  const base = self.flavourOf ?? self.id;
  return profiles.filter((p) => p.id === base || p.flavourOf === base).sort((a, b) => (a.id < b.id ? -1 : 1));
}

/** Kernel drivers of network PCI functions: a function bound to one of these is a NIC port even without a linked interface. */
export const NIC_DRIVERS: readonly string[] = [
  'nfp',
  'mlx5_core',
  'mlx4_core',
  'ice',
  'i40e',
  'iavf',
  'ixgbe',
  'ixgbevf',
  'igb',
  'igc',
  'e1000e',
  'e1000',
  'bnxt_en',
  'ionic',
  'tg3',
  'qede',
  'cxgb4',
  'sfc',
  'ena',
  'gve',
  'idpf',
  'vmxnet3',
  'virtio_net',
  'atlantic',
  'r8169',
  'be2net',
  'hinic',
  'octeon_ep',
];

/** Host-side PCI functions of BlueField DPUs (BlueField-1, -2, -3); the card is also its own MAAS machine. */
const BLUEFIELD = { vendorId: '15b3', productIds: ['a2d2', 'a2d6', 'a2dc'] };

export function isNetworkPciDevice(d: PciDevice): boolean {
  return d.interfaceName !== null && d.interfaceName !== '' ? true : d.driver !== null && NIC_DRIVERS.includes(d.driver);
}

function isBlueField(d: PciDevice): boolean {
  return d.vendorId.toLowerCase() === BLUEFIELD.vendorId && BLUEFIELD.productIds.includes(d.productId.toLowerCase());
}

/** `[domain:]bus:device.function` -> `domain:bus:device`: the functions of one card share it. */
function cardKey(pciAddress: string): string {
  const m = /^(?:([0-9a-f]{4,}):)?([0-9a-f]{2}):([0-9a-f]{2})\.[0-7]$/i.exec(pciAddress.trim());
  if (!m) return pciAddress.trim().toLowerCase();
  return `${(m[1] ?? '0000').toLowerCase()}:${m[2].toLowerCase()}:${m[3].toLowerCase()}`;
}

function byHostname(a: Machine, b: Machine): number {
  return a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0;
}

/**
 * The devices of a host ioplane may place on: one Device per network card
 * (PCI functions grouped by bus:device, in PCI address order). Unknown hardware is listed
 * with profileId null and kind `nic`, never thrown on. A BlueField card is linked to the DPU
 * machine whose parent is this host, preferring a DPU of the same BlueField model.
 */
export function detectDevices(host: Machine, dpuMachines: readonly Machine[], profiles: readonly FirmwareProfile[]): Device[] {
  const ifaceByName = new Map(host.interfaces.map((i) => [i.name, i]));
  const cards = new Map<string, PciDevice[]>();
  const network = host.pciDevices
    .filter(isNetworkPciDevice)
    .sort((a, b) => (a.pciAddress < b.pciAddress ? -1 : a.pciAddress > b.pciAddress ? 1 : 0));
  for (const fn of network) {
    const key = cardKey(fn.pciAddress);
    cards.set(key, [...(cards.get(key) ?? []), fn]);
  }
  const dpus = dpuMachines.filter((m) => m.parentSystemId === host.systemId).sort(byHostname);
  const unlinked = [...dpus];
  // MAAS links a DPU to its host by PCI serial, which it does not expose; the same BlueField
  // model on both sides is the next best evidence, then hostname order.
  const takeDpu = (productId: string): string | null => {
    const sameModel = unlinked.findIndex((d) => d.pciDevices.some((p) => isBlueField(p) && p.productId.toLowerCase() === productId));
    const i = sameModel >= 0 ? sameModel : unlinked.length ? 0 : -1;
    return i >= 0 ? unlinked.splice(i, 1)[0].systemId : null;
  };

  const devices: Device[] = [];
  const usedNames = new Set<string>();
  for (const fns of cards.values()) {
    const fwOf = (fn: PciDevice) => (fn.interfaceName ? (ifaceByName.get(fn.interfaceName)?.firmwareVersion ?? null) : null);
    const interfaces = fns.map((fn) => fn.interfaceName).filter((n): n is string => !!n);
    const firmwareVersion = fns.map(fwOf).find((v) => v !== null) ?? null;
    let profile: FirmwareProfile | null = null;
    for (const fn of fns) {
      profile = matchProfile(profiles, { vendorId: fn.vendorId, productId: fn.productId, firmwareVersion: fwOf(fn) ?? firmwareVersion });
      if (profile) break;
    }
    const lead = fns.find((fn) => fn.interfaceName) ?? fns[0];
    let name = interfaces[0] ?? lead.pciAddress;
    if (usedNames.has(name)) name = lead.pciAddress;
    usedNames.add(name);
    const bf = fns.find(isBlueField);
    const dpuSystemId = bf ? takeDpu(bf.productId.toLowerCase()) : null;
    devices.push({
      id: `${host.systemId}/${name}`,
      machineSystemId: host.systemId,
      kind: profile?.kind ?? 'nic',
      name,
      vendorId: lead.vendorId.toLowerCase(),
      productId: lead.productId.toLowerCase(),
      vendorName: lead.vendorName || null,
      productName: lead.productName || null,
      firmwareVersion,
      driver: lead.driver,
      pciAddress: lead.pciAddress,
      interfaces,
      linkSpeedMbps: interfaces.reduce((sum, n) => sum + (ifaceByName.get(n)?.linkSpeedMbps ?? 0), 0),
      profileId: profile?.id ?? null,
      dpuSystemId,
    });
  }
  return devices;
}
