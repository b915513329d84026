import type { FirmwareProfile } from '@ioplane/domain';
import { EmulatedDevice, type EmulatedDeviceOptions } from './emulated/emulated.device';

/**
 * An emulated DPU (BlueField, Pensando): XDP on the Arm cores and eSwitch flow offload judged by
 * the profile; the BFB bundle goes to the inactive eMMC boot partition and boots on trial, with the
 * profile's (long) write and activation times scaled by `timeScale`. Host CPU time is null for its
 * programs: they run on the Arm, not on the host.
 */
export class EmulatedDpuDriver extends EmulatedDevice {
  constructor(o: EmulatedDeviceOptions & { profile: FirmwareProfile }) {
    super('emulated-dpu', o);
  }
}
