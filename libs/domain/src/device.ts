import type { Device } from './machine';

/**
 * A NIC nothing is known of but its name and netdevs: no PCI identity, no firmware, no profile
 * (so listed, never placed on), no link speed. What the agent runs on it is the host kernel's XDP.
 */
export function bareNic(machineSystemId: string, name: string, interfaces: string[]): Device {
  return {
    id: `${machineSystemId}/${name}`,
    machineSystemId,
    kind: 'nic',
    name,
    vendorId: null,
    productId: null,
    vendorName: null,
    productName: null,
    firmwareVersion: null,
    driver: null,
    pciAddress: null,
    interfaces,
    linkSpeedMbps: 0,
    profileId: null,
    dpuSystemId: null,
  };
}
