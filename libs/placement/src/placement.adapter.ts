import type { Device, FirmwareProfile } from '@ioplane/domain';
import { DeviceFlavour, PlacementDevice } from './placement.model';

/** Copy the numbers the solver needs out of a firmware profile. */
export function flavourFromProfile(p: FirmwareProfile): DeviceFlavour {
  return {
    profileId: p.id,
    targets: [...p.targets],
    programSlotsPerPort: p.limits.programSlotsPerPort,
    ports: p.limits.ports,
    maxInstructions: p.limits.maxInstructions,
    mapMemoryBytes: p.limits.mapMemoryBytes,
    flowRules: p.limits.flowRules,
    throughput: { ...p.throughput },
    switchSeconds: p.flash.writeSeconds + p.flash.activateSeconds,
  };
}

/**
 * An inventory Device as the solver sees it: its current profile first, then (when
 * `allowFlavourSwitch`) the other firmware flavours of the same hardware, each switchable at the
 * cost of its flash. Unprofiled devices come back null (never placed on).
 */
export function placementDevice(
  device: Pick<Device, 'id' | 'kind' | 'profileId'> & { interfaces?: string[] },
  profiles: readonly FirmwareProfile[],
  allowFlavourSwitch = true,
): PlacementDevice | null {
  const current = device.profileId ? profiles.find((p) => p.id === device.profileId) : undefined;
  if (!current) return null;
  const family = current.flavourOf ?? current.id;
  const others = allowFlavourSwitch
    ? profiles.filter((p) => p.id !== current.id && (p.id === family || p.flavourOf === family)).sort((a, b) => (a.id < b.id ? -1 : 1))
    : [];
  return {
    id: device.id,
    kind: device.kind,
    flavours: [current, ...others].map(flavourFromProfile),
    interfaces: [...(device.interfaces ?? [])],
  };
}
