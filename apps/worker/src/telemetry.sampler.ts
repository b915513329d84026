import type { ModuleCatalog } from '@ioplane/catalog';
import { agentToken, AgentClient } from '@ioplane/agent-api';
import { hostXdpDeviceId, runsOwnHostXdp, type FirmwareProfile, type FleetMachine } from '@ioplane/domain';
import { hostCostOf } from '@ioplane/planning';
import { DEFAULT_ARM_CORES, DEFAULT_ARM_SLOWDOWN } from '@ioplane/placement';
import { CounterReading, MachineSnapshot, TelemetryWindow, windowRates } from '@ioplane/rebalance';
import type { AgentPort } from '@ioplane/rollout';
import { machineAgents, type DpuAgent } from './machine.agents';
import type { FleetRepository, RolloutRepository, TelemetryLimits, TelemetryRepository } from '@ioplane/state';

const DEPLOYED = 6;

export interface SamplerDeps {
  fleet: FleetRepository;
  rollouts: RolloutRepository;
  telemetry: TelemetryRepository;
  catalog: ModuleCatalog;
  profiles: FirmwareProfile[];
  agentTokenSecret: string;
  limits: TelemetryLimits;
  concurrency?: number;
  timeoutMs?: number;
}

export interface SampleResult {
  window: number;
  machines: number;
  /** Devices that did not answer, as `hostname/device: message`. */
  errors: string[];
}

/** Hosts whose agents are sampled: Deployed, not a DPU (its host's agent owns it), with an agent endpoint. */
export function sampledHosts(all: FleetMachine[]): FleetMachine[] {
  return all.filter((m) => !m.isDpu && m.status === DEPLOYED && !!m.agentUrl);
}

/**
 * One sampling round: opens the next window and, per host, turns the agent's cumulative counters
 * into rates against the previous round. A device that does not answer keeps its previous
 * reading, so one failed call costs one window of that device, not two.
 */
export async function sampleFleet(deps: SamplerDeps): Promise<SampleResult> {
  const window = await deps.telemetry.nextWindow();
  const hosts = sampledHosts(await deps.fleet.listMachines());
  const errors: string[] = [];
  const nsCache = new Map<string, Promise<number | null>>();
  const nsPerPacket = (module: string) => {
    let p = nsCache.get(module);
    if (!p) {
      p = deps.catalog.analysis(module).then(
        (r) => hostCostOf(r).nsPerPacket,
        () => null,
      );
      nsCache.set(module, p);
    }
    return p;
  };
  let next = 0;
  const worker = async () => {
    while (next < hosts.length) {
      const m = hosts[next++];
      try {
        errors.push(...(await sampleMachine(deps, m, window, nsPerPacket)));
      } catch (e) {
        errors.push(`${m.hostname}: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(deps.concurrency ?? 8, hosts.length) }, worker));
  return { window, machines: hosts.length, errors };
}

/**
 * The host's agent, and for the devices of a DPU that runs an agent of its own (a MAAS machine,
 * child of the host) that DPU's agent: the counters of a module moved to the DPU are read where
 * it runs, as the rollout loads it there (machineAgents).
 */
async function machineClient(deps: SamplerDeps, m: FleetMachine): Promise<AgentPort> {
  const client = (url: string, id: string) =>
    new AgentClient(url, agentToken(deps.agentTokenSecret, id), { timeoutMs: deps.timeoutMs ?? 5_000 });
  const dpuOf = new Map(m.devices.filter((d) => d.dpuSystemId).map((d) => [d.id, d.dpuSystemId!]));
  const dpus: DpuAgent[] = [];
  for (const id of new Set(dpuOf.values())) {
    const dm = await deps.fleet.getMachine(id);
    const url = dm?.agentUrl ?? (dm?.ipAddresses[0] ? `http://${dm.ipAddresses[0]}:${new URL(m.agentUrl!).port || 80}` : null);
    if (dm && url) dpus.push({ machine: dm, url, agent: client(url, id) });
  }
  return machineAgents(client(m.agentUrl!, m.systemId), dpus, (deviceId) => dpuOf.get(deviceId) ?? null);
}

async function sampleMachine(
  deps: SamplerDeps,
  m: FleetMachine,
  window: number,
  nsPerPacket: (module: string) => Promise<number | null>,
): Promise<string[]> {
  const client = await machineClient(deps, m);
  const prev = await deps.telemetry.lastSnapshot<MachineSnapshot>(m.systemId);
  // The agent drives every card (an unprofiled one through the host kernel's XDP) and, for a card
  // with hardware hooks, a second device for the host XDP on its netdevs.
  const devices = m.devices.flatMap((d) => (runsOwnHostXdp(d.profileId, deps.profiles) ? [d] : [d, { id: hostXdpDeviceId(d.id) }]));
  const snap: MachineSnapshot = { systemId: m.systemId, readings: [], errors: [] };
  await Promise.all(
    devices.map(async (d) => {
      try {
        const c = await client.counters(d.id);
        const at = Date.parse(c.at);
        for (const x of c.modules)
          snap.readings.push({
            deviceId: d.id,
            port: x.port,
            module: x.module,
            packets: x.packets,
            bytes: x.bytes,
            drops: x.drops,
            cpuNs: x.cpuNs,
            at,
          });
      } catch (e) {
        snap.errors.push({ deviceId: d.id, message: (e as Error).message });
        snap.readings.push(...(prev?.readings.filter((r: CounterReading) => r.deviceId === d.id) ?? []));
      }
    }),
  );
  const observed = await deps.rollouts.observed(m.systemId);
  const placedOn = observed ? Object.fromEntries(observed.modules.map((x) => [x.name, x.deviceId])) : undefined;
  const armTarget = new Set(observed?.modules.filter((x) => x.target === 'dpu-arm-xdp').map((x) => `${x.deviceId}|${x.name}`) ?? []);
  const ns = new Map<string, number | null>();
  for (const r of snap.readings)
    if (armTarget.has(`${r.deviceId}|${r.module}`) && !ns.has(r.module)) ns.set(r.module, await nsPerPacket(r.module));
  // Arm load is estimated, as the placement engine does: host ns per packet x the DPU's slowdown, over its cores.
  const armLoad = (deviceId: string, module: string, pps: number): number | null => {
    if (!armTarget.has(`${deviceId}|${module}`)) return null;
    const profileId = observed?.firmware[deviceId] ?? m.devices.find((d) => d.id === deviceId)?.profileId;
    const tp = deps.profiles.find((p) => p.id === profileId)?.throughput;
    const n = ns.get(module);
    if (!n) return null;
    return (pps * n * (tp?.armSlowdown ?? DEFAULT_ARM_SLOWDOWN)) / 1e9 / (tp?.armCores ?? DEFAULT_ARM_CORES);
  };
  const w: TelemetryWindow = windowRates(prev, snap, { window, hostname: m.hostname, at: new Date().toISOString(), armLoad, placedOn });
  await deps.telemetry.record(m.systemId, w, snap, deps.limits);
  return snap.errors.map((e) => `${m.hostname}/${e.deviceId}: ${e.message}`);
}
