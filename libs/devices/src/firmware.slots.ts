import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { FirmwareProfile } from '@ioplane/domain';
import { sleep } from './abort.sleep';
import { DeviceError } from './device.error';
import type { FirmwareSlot, FirmwareState, FlashImage, FlashOptions, FlashResult } from './device.driver';
import type { FaultBook } from './fault.book';

export interface FirmwareSlotsOptions {
  deviceId: string;
  profile: FirmwareProfile;
  /** Every profile, to resolve the flavour an image switches to. */
  profiles: readonly FirmwareProfile[];
  faults: FaultBook;
  timeScale: number;
  /** Folder holding one image file per slot: a flash writes the image there and reads it back. Absent: slots hold only the image's identity. */
  slotDir?: string;
  /** Called when an activation changes the running firmware (programs are gone after it). */
  onActivated(profile: FirmwareProfile): void;
}

/**
 * A/B firmware modelled on fwupd capability flags and Mender: write the inactive slot, read back
 * and check the digest, activate, boot on trial, commit only when the device comes back healthy,
 * else fall back to the old slot. A single-image device keeps the old image as its fallback copy.
 */
export class FirmwareSlots {
  private slots: FirmwareSlot[];
  private active = 0;
  updating = false;
  profile: FirmwareProfile;

  constructor(private readonly o: FirmwareSlotsOptions) {
    this.profile = o.profile;
    const names =
      o.profile.flash.capabilities.dualImage && o.profile.flash.slots.length >= 2
        ? o.profile.flash.slots.slice(0, 2)
        : ['main', 'fallback'];
    const running = { profileId: o.profile.id, version: o.profile.firmware.version, digest: `factory:${o.profile.id}` };
    this.slots = [
      { name: names[0], image: running, state: 'active', writes: 0 },
      { name: names[1], image: null, state: 'empty', writes: 0 },
    ];
  }

  state(): FirmwareState {
    return {
      profileId: this.profile.id,
      version: this.profile.firmware.version,
      activeSlot: this.slots[this.active].name,
      slots: this.slots.map((s) => ({ ...s, image: s.image ? { ...s.image } : null })),
      capabilities: { ...this.profile.flash.capabilities },
      updating: this.updating,
    };
  }

  private ms(seconds: number): number {
    return Math.max(0, seconds * 1000 * this.o.timeScale);
  }

  private result(status: FlashResult['status'], t0: number, slot: string | null, wrote: boolean, reason?: string): FlashResult {
    return { status, deviceId: this.o.deviceId, slot, wrote, reason, durationMs: Date.now() - t0, firmware: this.state() };
  }

  async flash(image: FlashImage, opts: FlashOptions = {}): Promise<FlashResult> {
    const t0 = Date.now();
    const { capabilities, tool } = this.profile.flash;
    if (tool === 'none')
      throw new DeviceError('flash_unsupported', `${this.profile.id} cannot be flashed by ioplane (flash tool: none)`, 'image');
    const next = this.o.profiles.find((p) => p.id === image.profileId);
    if (!next) throw new DeviceError('unknown_profile', `no firmware profile ${image.profileId}`, 'image.profileId');
    const family = (p: FirmwareProfile): string => p.flavourOf ?? p.id;
    if (family(next) !== family(this.profile)) {
      throw new DeviceError('unknown_profile', `${image.profileId} is not a flavour of ${this.profile.id}'s hardware`, 'image.profileId');
    }
    const activeSlot = this.slots[this.active];
    if (activeSlot.image?.digest === image.digest) return this.result('already_active', t0, activeSlot.name, false);
    const inactive = 1 - this.active;
    const target = this.slots[inactive];
    const activate = opts.activate !== false;
    const staged = target.state === 'staged' && target.image?.digest === image.digest;
    if (staged && !activate) return this.result('already_staged', t0, target.name, false);

    this.updating = true;
    try {
      if (!staged) {
        target.state = 'empty';
        target.image = null;
        target.writes = (target.writes ?? 0) + 1;
        await sleep(this.ms(this.profile.flash.writeSeconds), opts.signal);
        if (this.o.faults.fire(this.o.deviceId, 'flashFails')) {
          target.state = 'bad';
          return this.result(
            'failed',
            t0,
            target.name,
            true,
            `writing slot ${target.name} failed (injected fault); slot ${activeSlot.name} still active`,
          );
        }
        if (this.o.slotDir && image.bytes) {
          // The image really goes into the slot's file, and what is read back must hash to the digest.
          const file = join(this.o.slotDir, `${target.name}.img`);
          await fsp.mkdir(this.o.slotDir, { recursive: true, mode: 0o700 });
          await fsp.writeFile(file, image.bytes, { mode: 0o600 });
          const back = createHash('sha256')
            .update(await fsp.readFile(file))
            .digest('hex');
          if (back !== image.digest) {
            target.state = 'bad';
            return this.result(
              'failed',
              t0,
              target.name,
              true,
              `slot ${target.name} read back ${back.slice(0, 12)}, not the image's ${image.digest.slice(0, 12)}; slot ${activeSlot.name} still active`,
            );
          }
        }
        target.image = { profileId: image.profileId, version: image.version, digest: image.digest };
        target.state = 'staged';
      }
      if (!activate) return this.result('staged', t0, target.name, !staged);
      opts.signal?.throwIfAborted?.();
      const hang = this.o.faults.fire(this.o.deviceId, 'hang');
      // Trial boot: activation (reset / reboot) takes its time; a hung boot is detected by the
      // watchdog after the same time again, then the old slot boots.
      await sleep(this.ms(this.profile.flash.activateSeconds), opts.signal);
      if (hang) {
        await sleep(this.ms(this.profile.flash.activateSeconds), opts.signal);
        target.state = 'bad';
        return this.result(
          'fell_back',
          t0,
          target.name,
          !staged,
          `trial boot of slot ${target.name} hung (injected fault); fell back to slot ${activeSlot.name}`,
        );
      }
      activeSlot.state = 'inactive';
      target.state = 'active';
      this.active = inactive;
      if (next.id !== this.profile.id || capabilities.needsActivation || capabilities.needsReboot) {
        this.profile = next;
        this.o.onActivated(next);
      }
      return this.result('committed', t0, target.name, !staged);
    } catch (e) {
      if (e instanceof DeviceError && e.code === 'aborted' && target.state === 'empty') target.state = 'bad';
      throw e;
    } finally {
      this.updating = false;
    }
  }

  /** Boots the other slot again when it holds an image that once ran or was staged. */
  async rollback(signal?: AbortSignal): Promise<FirmwareState> {
    const other = this.slots[1 - this.active];
    if (!other.image || other.state === 'bad' || other.state === 'empty') {
      throw new DeviceError('nothing_to_roll_back', `no previous firmware in slot ${other.name}`, 'scope');
    }
    const prev = this.o.profiles.find((p) => p.id === other.image!.profileId) ?? this.profile;
    this.updating = true;
    try {
      await sleep(this.ms(this.profile.flash.activateSeconds), signal);
      this.slots[this.active].state = 'inactive';
      other.state = 'active';
      this.active = 1 - this.active;
      this.profile = prev;
      this.o.onActivated(prev);
      return this.state();
    } finally {
      this.updating = false;
    }
  }
}
