import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ModuleCatalog } from '@ioplane/catalog';
import { agentDeadlinesFromProfiles, agentToken, AgentClient, signArtifact } from '@ioplane/agent-api';
import type { FirmwareProfile } from '@ioplane/domain';
import type { MaasClient } from '@ioplane/maas';
import { packetHex } from '@ioplane/modules';
import type { PlacementRequest, StoredPlan } from '@ioplane/planning';
import { desiredState, DesiredMachine, firmwareImageFor, HopExecutor, MachineRecord, RolloutEnv, RolloutModule } from '@ioplane/rollout';
import { placementEnded } from '@ioplane/state';
import type { FleetRepository, ObservedPlacement, PlacementRepository, RolloutRepository } from '@ioplane/state';
import { acquireWaiting, MACHINE_LEASE_MS } from './machine.lease';
import { hopExecutor } from './hop.executor';
import { machineAgents, type DpuAgent } from './machine.agents';

export interface RolloutKeys {
  privateKeyPem: string;
  agentTokenSecret: string;
}

/** Wires the rollout orchestrator to Redis, the agents over HTTP, the artifact cache and MAAS. */
export function rolloutEnv(deps: {
  rollouts: RolloutRepository;
  placements: PlacementRepository;
  fleet: FleetRepository;
  catalog: ModuleCatalog;
  profiles: FirmwareProfile[];
  maas: MaasClient;
  keys: RolloutKeys;
  probeMs?: number;
  log(msg: string, fields: Record<string, unknown>): void;
}): RolloutEnv {
  const agentDeadlines = agentDeadlinesFromProfiles(deps.profiles);
  const modulesOf = new Map<string, Promise<Map<string, RolloutModule>>>();

  const loadModules = async (placementId: string): Promise<Map<string, RolloutModule>> => {
    const plan = await deps.placements.getPlan<StoredPlan>(placementId);
    const rec = await deps.placements.get(placementId);
    if (!plan || !rec) throw new Error(`placement ${placementId} has no plan`);
    const request = rec.request as PlacementRequest;
    const out = new Map<string, RolloutModule>();
    for (const m of plan.modules) {
      const { manifest } = await deps.catalog.get(m.name);
      const report = await deps.catalog.analysis(m.name);
      // The plan names an exact build: shipping anything else would be a different placement.
      if (report.artifact.digest !== m.digest) throw new Error(`module ${m.name}: build ${report.artifact.digest.slice(0, 12)} is not the planned ${m.digest.slice(0, 12)}`);
      const object = readFileSync(report.artifact.objectPath);
      // Agents check the signature over the bytes they receive, so the shipped digest is of the bytes.
      const digest = createHash('sha256').update(object).digest('hex');
      out.set(m.name, {
        name: m.name,
        version: m.version,
        digest,
        program: report.program.name,
        persistentMaps: manifest.hints.persistentMaps,
        matchAction: manifest.matchAction,
        object,
        pps: request.modules.find((x) => x.name === m.name)?.traffic?.pps ?? manifest.traffic.pps,
        // Vectors that need the manifest's seeded maps cannot run on the deployed chain, whose maps hold the operator's state; those modules are checked by tag and counters.
        vectors: manifest.seed?.length
          ? []
          : manifest.vectors.map((v) => ({ name: v.name, packetHex: packetHex(v), expectVerdict: v.expect.verdict, expectOutputHex: v.expect.outputHex, repeat: v.repeat })),
      });
    }
    return out;
  };

  const desired = async (placementId: string, systemId: string): Promise<DesiredMachine> => {
    let mods = modulesOf.get(placementId);
    if (!mods) {
      mods = loadModules(placementId);
      modulesOf.set(placementId, mods);
      mods.catch(() => modulesOf.delete(placementId));
    }
    const plan = await deps.placements.getPlan<StoredPlan>(placementId);
    const mp = plan?.machines.find((m) => m.systemId === systemId);
    if (!plan || !mp) throw new Error(`machine ${systemId} is not in the plan of ${placementId}`);
    const want = desiredState(mp, plan.modules.map((m) => m.name), await mods, await executorOf(systemId));
    // Only the operator's explicit word lets a check that could not run (no kernel) count as done.
    const req = (await deps.placements.get(placementId))?.request as PlacementRequest | undefined;
    return req?.policy?.acceptNotRun === true ? { ...want, acceptNotRun: true } : want;
  };

  /** MAAS's workload annotations for a commit; marked done on the observed record only if it still names this commit. */
  const annotateObserved = async (o: ObservedPlacement): Promise<boolean> => {
    try {
      await deps.maas.setWorkloadAnnotations(o.systemId, {
        ioplane_placement: o.placementId,
        ioplane_modules: o.modules.map((m) => `${m.name}@${m.version}:${m.digest.slice(0, 12)}:${m.target}`).join(','),
      });
    } catch (e) {
      // The placement runs whether or not MAAS takes the note; the reconciler tries again.
      deps.log('MAAS annotation failed; caught up later', { systemId: o.systemId, placementId: o.placementId, err: (e as Error).message });
      return false;
    }
    const now = await deps.rollouts.observed(o.systemId);
    if (now && now.placementId === o.placementId && now.committedAt === o.committedAt) await deps.rollouts.setObserved({ ...now, annotated: true });
    return true;
  };

  const executorOf = async (systemId: string): Promise<HopExecutor> => hopExecutor((await deps.fleet.getMachine(systemId))?.devices ?? [], deps.profiles);

  return {
    store: deps.rollouts,
    leases: {
      acquire: (placementId, systemId, holder) =>
        acquireWaiting(systemId, () => deps.rollouts.acquireLease(systemId, placementId, holder, MACHINE_LEASE_MS, (owner) => placementEnded(deps.placements, owner)), MACHINE_LEASE_MS + 5_000),
      letGo: (fence) => deps.rollouts.letGoLease(fence),
    },
    probeMs: deps.probeMs,
    log: deps.log,
    sign: (digest) => signArtifact(digest, deps.keys.privateKeyPem),
    firmwareImage: (profileId) => {
      const p = deps.profiles.find((x) => x.id === profileId);
      if (!p) throw new Error(`no firmware profile ${profileId}`);
      return firmwareImageFor(p);
    },
    desired,
    async agentFor(systemId) {
      const m = await deps.fleet.getMachine(systemId);
      if (!m?.agentUrl) throw new Error(`machine ${systemId} has no agent endpoint in the inventory`);
      // Per-call deadlines from the profiles' flash timings, so a silent agent fails its step in seconds, a flash in minutes.
      const client = (url: string, id: string) => new AgentClient(url, agentToken(deps.keys.agentTokenSecret, id), { deadlines: agentDeadlines });
      // Each DPU is a MAAS machine (a child of this host) with an agent of its own at its address, on the agents' port.
      const dpuOf = new Map(m.devices.filter((d) => d.dpuSystemId).map((d) => [d.id, d.dpuSystemId!]));
      const dpus: DpuAgent[] = [];
      for (const id of new Set(dpuOf.values())) {
        const dm = await deps.fleet.getMachine(id);
        const url = dm?.agentUrl ?? (dm?.ipAddresses[0] ? `http://${dm.ipAddresses[0]}:${new URL(m.agentUrl).port || 80}` : null);
        if (dm && url) dpus.push({ machine: dm, url, agent: client(url, id) });
      }
      return machineAgents(client(m.agentUrl, systemId), dpus, (deviceId) => dpuOf.get(deviceId) ?? null);
    },
    async onCommitted(placementId: string, rec: MachineRecord, want: DesiredMachine) {
      const plan = await deps.placements.getPlan<StoredPlan>(placementId);
      const mp = plan?.machines.find((m) => m.systemId === rec.systemId);
      const modules = want.chains.flatMap((c) =>
        c.modules.map((m) => ({
          name: m.name, version: m.version, digest: m.digest, deviceId: c.deviceId, target: c.target, profileId: mp?.placements[m.name]?.profileId ?? null,
          ...(c.interface ? { interface: c.interface } : {}),
        })),
      );
      const fm = await deps.fleet.getMachine(rec.systemId);
      const firmware: Record<string, string> = {};
      for (const d of fm?.devices ?? []) if (d.profileId) firmware[d.id] = d.profileId;
      for (const f of want.flashes) firmware[f.deviceId] = f.profileId;
      const before = await deps.rollouts.observed(rec.systemId);
      const previousPlacementId = before && before.placementId !== placementId ? before.placementId : (before?.previousPlacementId ?? null);
      // Recorded as not annotated first: a MAAS outage (or a worker dying) here leaves a note the reconciler catches up on.
      const observed: ObservedPlacement = { systemId: rec.systemId, placementId, committedAt: new Date().toISOString(), modules, firmware, previousPlacementId, annotated: false };
      await deps.rollouts.setObserved(observed);
      await annotateObserved(observed);
    },
    async annotateMissing() {
      let n = 0;
      for (const o of (await deps.rollouts.allObserved()).filter((x) => x.annotated === false)) if (await annotateObserved(o)) n++;
      return n;
    },
  };
}
