import { hostXdpDeviceId, runsOwnHostXdp, type Device, type FirmwareProfile } from '@ioplane/domain';
import type { HopExecutor } from '@ioplane/rollout';

/**
 * Host XDP on a netdev (driver or generic mode) is run by the host kernel for the card that owns
 * it: the card's own driver when no firmware of its family has hardware hooks (host-XDP-only or
 * unprofiled), else the agent's host-XDP device for that card's netdevs, at the same port (a
 * flash in this very rollout does not move it). Every other hop runs where the plan says.
 */
export function hopExecutor(devices: readonly Pick<Device, 'id' | 'profileId'>[], profiles: readonly FirmwareProfile[]): HopExecutor {
  return (hop) => {
    if (!hop.target.startsWith('host-')) return { deviceId: hop.deviceId, port: hop.port };
    const card = devices.find((d) => d.id === hop.deviceId);
    if (!card || runsOwnHostXdp(card.profileId, profiles)) return { deviceId: hop.deviceId, port: hop.port };
    return { deviceId: hostXdpDeviceId(card.id), port: hop.port };
  };
}
