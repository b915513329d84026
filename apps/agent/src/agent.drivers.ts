import { join } from 'node:path';
import { familyHostTargets, hostXdpDeviceId, runsOwnHostXdp, type Device, type FirmwareProfile, type Target } from '@ioplane/domain';
import { kernelAvailable } from '@ioplane/compiler';
import {
  EmulatedDpuDriver,
  EmulatedHostDriver,
  EmulatedNicDriver,
  ensureXdpctl,
  KernelXdpDriver,
  type DeviceDriver,
  type FaultBook,
  type HostPorts,
} from '@ioplane/devices';

export interface DriverSetup {
  agentId: string;
  devices: Device[];
  profiles: FirmwareProfile[];
  faults: FaultBook;
  timeScale: number;
  kernel: 'auto' | 'off';
  stateDir: string;
  /** Act on the host's interfaces by their MAAS names (see AgentOptions.interfaces). */
  host?: HostPorts;
}

export interface DriverSet {
  mode: 'kernel' | 'emulated';
  modeReason: string | null;
  drivers: Map<string, DeviceDriver>;
  /** Devices listed without a driver (unprofiled hardware): never placed on. */
  unmanaged: Map<string, { device: Device; reason: string }>;
}

async function kernelMode(kernel: 'auto' | 'off'): Promise<{ ok: boolean; reason: string | null }> {
  if (kernel === 'off') return { ok: false, reason: 'kernel disabled by configuration' };
  const k = await kernelAvailable();
  if (!k.ok) return { ok: false, reason: k.reason ?? 'kernel unavailable' };
  try {
    await ensureXdpctl();
    return { ok: true, reason: null };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  }
}

/** The kernel offers generic XDP on every netdev, whatever the card's driver. */
const withGeneric = (p: FirmwareProfile): FirmwareProfile =>
  p.targets.includes('host-xdp-generic') ? p : { ...p, targets: [...p.targets, 'host-xdp-generic'] };

/** One driver per device, plus a host-XDP driver for the netdevs of a card with hardware hooks: host XDP is the real kernel when allowed, SmartNICs and DPUs are emulated. */
export async function createDrivers(s: DriverSetup): Promise<DriverSet> {
  const k = await kernelMode(s.kernel);
  const drivers = new Map<string, DeviceDriver>();
  const unmanaged = new Map<string, { device: Device; reason: string }>();
  const common = { profiles: s.profiles, faults: s.faults, timeScale: s.timeScale, kernelVectors: k.ok, kernelReason: k.reason };
  // Host XDP on a card's netdevs: the kernel attaches in driver or generic mode on that interface.
  // `hostTargets`: the modes of a card whose own driver is emulated (its host-XDP device).
  const hostXdp = (device: Device, index: number, profile: FirmwareProfile | null, hostTargets?: Target[]): DeviceDriver =>
    k.ok
      ? new KernelXdpDriver({
          agentId: s.agentId,
          device,
          deviceIndex: index,
          stateDir: s.stateDir,
          profile,
          profiles: s.profiles,
          faults: s.faults,
          timeScale: s.timeScale,
          host: s.host,
          hostTargets,
        })
      : profile
        ? new EmulatedNicDriver({ ...common, device, profile: withGeneric(profile) })
        : new EmulatedHostDriver({ ...common, device, hostTargets });
  for (const [index, device] of s.devices.entries()) {
    const profile = device.profileId ? (s.profiles.find((p) => p.id === device.profileId) ?? null) : null;
    if (device.profileId && !profile) {
      unmanaged.set(device.id, { device, reason: `firmware profile ${device.profileId} is not loaded` });
      continue;
    }
    const ownHostXdp = runsOwnHostXdp(device.profileId, s.profiles);
    let driver: DeviceDriver;
    if (ownHostXdp) {
      // A card no firmware of its family gives hardware hooks, or one no profile matches (generic XDP only): the host kernel is its driver.
      driver = hostXdp(device, index, profile);
    } else {
      // The device's hardware stage in a packet-true fleet (kernel only): accepted XDP runs there.
      const spec = k.ok ? s.host?.stages?.[device.id] : undefined;
      const stage = spec ? { ...spec, agentId: `${s.agentId}-s${index}`, stateDir: join(s.stateDir, `stage-${index}`) } : undefined;
      const firmwareDir = join(s.stateDir, 'firmware', device.id.replace(/[^A-Za-z0-9_-]/g, '_'));
      // Its netdevs' host XDP (driver mode included) runs in the host-XDP device below, never modeled here.
      const card = { ...common, device, profile: profile!, stage, firmwareDir, hostXdpElsewhere: true };
      driver = device.kind === 'dpu' ? new EmulatedDpuDriver(card) : new EmulatedNicDriver(card);
    }
    await driver.init();
    drivers.set(device.id, driver);
    if (!ownHostXdp) {
      // Its netdevs still take host XDP (generic at least, native where its driver has it), which the card's own driver does not run.
      const host = hostXdp(
        { ...device, id: hostXdpDeviceId(device.id), kind: 'nic', name: `${device.name}~xdp`, profileId: null },
        s.devices.length + index,
        null,
        familyHostTargets(device.profileId, s.profiles),
      );
      await host.init();
      drivers.set(host.device.id, host);
    }
  }
  return { mode: k.ok ? 'kernel' : 'emulated', modeReason: k.reason, drivers, unmanaged };
}
