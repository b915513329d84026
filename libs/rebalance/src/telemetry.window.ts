/**
 * Telemetry as the rebalancer reads it: cumulative counters sampled from each host's agent are
 * turned into per-window rates. A window is one sampling round of the whole fleet; windows are
 * numbered by a fleet-wide counter so "consecutive" means the same thing on every machine.
 */

/** Cumulative counters of one module on one device port, as the agent last reported them. */
export interface CounterReading {
  deviceId: string;
  port: number;
  module: string;
  packets: number;
  bytes: number;
  drops: number;
  /** Host CPU the module spent, ns; null where the device does not run on host cores. */
  cpuNs: number | null;
  /** Agent clock of the device's answer, ms. */
  at: number;
}

/** Everything read from one host in one round. */
export interface MachineSnapshot {
  systemId: string;
  readings: CounterReading[];
  /** Devices that did not answer, with why. */
  errors: Array<{ deviceId: string; message: string }>;
}

export interface ModuleRate {
  pps: number;
  bytesPerSecond: number;
  dropsPerSecond: number;
  meanPacketBytes: number;
  /** Devices the module's packets were counted on this window. */
  deviceIds: string[];
  /** Host cores the module used (cpu ns per second / 1e9), when the device reports it. */
  hostCores: number | null;
}

export interface DeviceLoad {
  pps: number;
  /** Host cores spent in XDP on this device, where reported. */
  hostCores: number | null;
  /** Estimated share of the DPU's Arm cores busy with XDP (0..1+), DPUs only. */
  armLoad: number | null;
}

export interface TelemetryWindow {
  window: number;
  systemId: string;
  hostname: string;
  at: string;
  /** Modules with a rate this window (a module first seen on a device gets one next window). */
  modules: Record<string, ModuleRate>;
  devices: Record<string, DeviceLoad>;
  /** Host cores spent in XDP over all host devices, null when no host device reported cpu time. */
  hostXdpCores: number | null;
  errors: Array<{ deviceId: string; message: string }>;
  /** Modules counted on a device other than the one their placement names (a chain left behind), not in `modules`. */
  stray: Array<{ module: string; deviceId: string; pps: number }>;
}

const keyOf = (r: Pick<CounterReading, 'deviceId' | 'port' | 'module'>) => `${r.deviceId}|${r.port}|${r.module}`;

/**
 * Rates between two snapshots. A counter that is new, went backwards (the program was reloaded)
 * or saw no time pass gives no rate this window: a move never shows up as a traffic spike.
 */
export function windowRates(
  prev: MachineSnapshot | null,
  next: MachineSnapshot,
  meta: {
    window: number;
    hostname: string;
    at: string;
    armLoad?: (deviceId: string, module: string, pps: number) => number | null;
    /** Module -> the device its placement runs it on; counters elsewhere are reported as stray. */
    placedOn?: Record<string, string>;
  },
): TelemetryWindow {
  const before = new Map((prev?.readings ?? []).map((r) => [keyOf(r), r]));
  const modules: Record<string, ModuleRate & { bytes: number }> = {};
  const devices: Record<string, DeviceLoad> = {};
  const stray: TelemetryWindow['stray'] = [];
  for (const r of next.readings) {
    const p = before.get(keyOf(r));
    const seconds = p ? (r.at - p.at) / 1000 : 0;
    if (!p || seconds <= 0 || r.packets < p.packets || r.bytes < p.bytes) continue;
    const pps = (r.packets - p.packets) / seconds;
    const bps = (r.bytes - p.bytes) / seconds;
    const drops = Math.max(0, r.drops - p.drops) / seconds;
    const cores = r.cpuNs !== null && p.cpuNs !== null ? Math.max(0, r.cpuNs - p.cpuNs) / seconds / 1e9 : null;
    const placed = meta.placedOn?.[r.module];
    if (placed && placed !== r.deviceId) {
      stray.push({ module: r.module, deviceId: r.deviceId, pps });
      continue;
    }
    const m = (modules[r.module] ??= {
      pps: 0,
      bytesPerSecond: 0,
      dropsPerSecond: 0,
      meanPacketBytes: 0,
      deviceIds: [],
      hostCores: null,
      bytes: 0,
    });
    m.pps += pps;
    m.bytesPerSecond += bps;
    m.dropsPerSecond += drops;
    if (!m.deviceIds.includes(r.deviceId)) m.deviceIds.push(r.deviceId);
    if (cores !== null) m.hostCores = (m.hostCores ?? 0) + cores;
    const d = (devices[r.deviceId] ??= { pps: 0, hostCores: null, armLoad: null });
    d.pps += pps;
    if (cores !== null) d.hostCores = (d.hostCores ?? 0) + cores;
    const arm = meta.armLoad?.(r.deviceId, r.module, pps) ?? null;
    if (arm !== null) d.armLoad = (d.armLoad ?? 0) + arm;
  }
  let hostXdpCores: number | null = null;
  for (const d of Object.values(devices)) if (d.hostCores !== null) hostXdpCores = (hostXdpCores ?? 0) + d.hostCores;
  const out: Record<string, ModuleRate> = {};
  for (const [name, { bytes: _b, ...m }] of Object.entries(modules)) {
    out[name] = { ...m, meanPacketBytes: m.pps > 0 ? m.bytesPerSecond / m.pps : 0 };
  }
  return {
    window: meta.window,
    systemId: next.systemId,
    hostname: meta.hostname,
    at: meta.at,
    modules: out,
    devices,
    hostXdpCores,
    errors: next.errors,
    stray,
  };
}
