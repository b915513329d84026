import type { FirmwareProfile, Target } from '@ioplane/domain';
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
  /** `hostTargets`: the modes a card's driver offers on its netdevs (see KernelXdpOptions.hostTargets); absent: native and generic. */
  constructor(o: Omit<EmulatedDeviceOptions, 'profile'> & { hostTargets?: Target[] }) {
    // Host XDP can attach to any of the host's interfaces: one port per interface of the device,
    // in the order the planner indexes them (a generic hop on the third interface is port 2).
    const base = hostKernelLimits();
    const ports = Math.max(1, o.device.interfaces.length);
    super('emulated-host', { ...o, profile: { ...base, targets: o.hostTargets ?? base.targets, limits: { ...base.limits, ports } } });
  }
}
