import { createHash } from 'node:crypto';
import type { FirmwareProfile } from '@ioplane/domain';
import type { FirmwareImage } from './machine.runbook';

/**
 * The image flashed to switch a device to a profile's firmware. Emulated devices take a
 * deterministic stand-in (vendor images are not redistributable); its digest and signature are
 * checked exactly as a real image's would be.
 */
export function firmwareImageFor(p: FirmwareProfile): FirmwareImage {
  const bytes = Buffer.from(`ioplane-emulated-firmware\n${p.vendor}\n${p.model}\n${p.firmware.flavour}\n${p.firmware.version}\n${p.id}\n`);
  return { profileId: p.id, version: p.firmware.version, digest: createHash('sha256').update(bytes).digest('hex'), bytes };
}
