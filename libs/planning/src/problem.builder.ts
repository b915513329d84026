import type { FirmwareProfile, FleetMachine } from '@ioplane/domain';
import type { ModuleReport } from '@ioplane/catalog';
import type { ModuleManifest } from '@ioplane/modules';
import { CurrentPlacement, HOST_CPU_FLAVOUR, PlacementDevice, placementDevice, PlacementMachine, PlacementModule } from '@ioplane/placement';
import type { DeviceFacts } from './agent.facts';
import type { PlacementModuleRequest } from './placement-request.schema';

/**
 * A machine as the solver sees it: the host CPU and every profiled device with its flavours.
 * Unprofiled devices are left out: ioplane never places on hardware it has no limits for.
 */
export function toPlacementMachine(
  m: FleetMachine,
  profiles: FirmwareProfile[],
  hostCoreBudget: number,
  current: Record<string, CurrentPlacement> = {},
  facts: DeviceFacts | null = null,
): PlacementMachine {
  const devices = m.devices
    .map((d) => placementDevice(d, profiles))
    .filter((d): d is PlacementDevice => d !== null)
    .map((d) => withAgentFacts(d, facts?.[d.id]));
  return {
    systemId: m.systemId,
    hostname: m.hostname,
    zone: m.zone,
    pool: m.pool,
    tags: m.tags,
    hostCores: m.cpuCount,
    hostCoreBudget: Math.min(hostCoreBudget, m.cpuCount),
    devices,
    currentPlacement: current,
  };
}

/** A module as the solver sees it: its verdict per profile, its measured (or estimated) cost, the operator's overrides. */
export function toPlacementModule(report: ModuleReport, manifest: ModuleManifest, req: PlacementModuleRequest, chainPosition: number): PlacementModule {
  return {
    name: manifest.name,
    version: manifest.version,
    chainPosition,
    traffic: req.traffic ?? manifest.traffic,
    latencyBudgetUs: req.latencyBudgetUs ?? manifest.latencyBudgetUs,
    prefer: req.prefer ?? manifest.hints.prefer,
    pin: req.pin,
    hostNsPerPacket: report.cost.nsPerPacket,
    costEstimated: report.cost.estimated,
    instructions: report.program.totalInstructions,
    mapMemoryBytes: report.maps.reduce((n, m) => n + m.bytes, 0),
    verdicts: Object.fromEntries(report.verdicts.map((v) => [v.profileId, { acceptedTargets: v.acceptedTargets, reasons: v.reasons.map((r) => ({ code: r.code, message: r.message, target: r.target })) }])),
    scope: req.scope
      ? { replicas: req.scope.replicas, totalPps: req.scope.totalPps, maxPerZone: req.scope.maxPerZone, selector: req.scope.selector ?? {} }
      : undefined,
  };
}

/**
 * The agent knows what the profile cannot: a kernel without freplace runs one program per hook.
 * Its slot and port counts cap the profile's for the flavour the device runs now.
 */
function withAgentFacts(d: PlacementDevice, f: DeviceFacts[string] | undefined): PlacementDevice {
  if (!f) return d;
  const flavours = d.kind === 'host-cpu' && d.flavours.length === 0 ? [HOST_CPU_FLAVOUR] : d.flavours;
  if (!flavours.length) return d;
  const [now, ...others] = flavours;
  return { ...d, flavours: [{ ...now, programSlotsPerPort: Math.min(now.programSlotsPerPort, f.programSlotsPerPort), ports: Math.min(now.ports, f.ports) }, ...others] };
}
