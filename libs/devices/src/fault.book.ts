import type { DeviceFaults, FaultKind } from '@ioplane/agent-api';

export { FAULT_KINDS } from '@ioplane/agent-api';
export type { DeviceFaults, FaultKind, FaultSpec } from '@ioplane/agent-api';

/** Injected faults per device, consumed where the device would fail (flash write, trial boot, load). */
export class FaultBook {
  private readonly byDevice = new Map<string, DeviceFaults>();

  constructor(private readonly random: () => number = Math.random) {}

  set(deviceId: string, faults: DeviceFaults | null): void {
    if (!faults || Object.keys(faults).length === 0) this.byDevice.delete(deviceId);
    else this.byDevice.set(deviceId, { ...faults });
  }

  clear(deviceId?: string): void {
    if (deviceId === undefined) this.byDevice.clear();
    else this.byDevice.delete(deviceId);
  }

  get(deviceId: string): DeviceFaults {
    return { ...(this.byDevice.get(deviceId) ?? {}) };
  }

  all(): Record<string, DeviceFaults> {
    return Object.fromEntries([...this.byDevice].map(([k, v]) => [k, { ...v }]));
  }

  /** Whether the fault fires now; a `next` counter is consumed. */
  fire(deviceId: string, kind: FaultKind): boolean {
    const faults = this.byDevice.get(deviceId);
    const spec = faults?.[kind];
    if (spec === undefined || spec === false) return false;
    if (spec === true) return true;
    if ('next' in spec) {
      if (spec.next <= 0) return false;
      const left = spec.next - 1;
      if (left > 0) faults![kind] = { next: left };
      else delete faults![kind];
      return true;
    }
    return this.random() < spec.probability;
  }
}
