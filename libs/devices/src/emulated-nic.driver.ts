import type { FirmwareProfile } from '@ioplane/domain';
import { hostKernelLimits } from '@ioplane/compiler';
import { EmulatedDevice, type EmulatedDeviceOptions } from './emulated/emulated.device';

/**
 * An emulated SmartNIC (or plain NIC): the profile's offload verifier judges the real bytecode,
 * `programSlotsPerPort` per port (one on Netronome), firmware flavours flashed with the profile's
 * timings. Also used, with the built-in host profile, as the host XDP device when no kernel runs.
 */
export class EmulatedNicDriver extends EmulatedDevice {
  constructor(o: EmulatedDeviceOptions & { profile: FirmwareProfile }) {
    super('emulated-nic', o);
  }
}

export class EmulatedHostDriver extends EmulatedDevice {
  constructor(o: Omit<EmulatedDeviceOptions, 'profile'>) {
    super('emulated-host', { ...o, profile: hostKernelLimits() });
  }
}
