import { agentDeadlinesFromProfiles, agentToken, AgentClient, signArtifact } from '@ioplane/agent-api';
import type { FirmwareProfile } from '@ioplane/domain';
import type { MaasClient } from '@ioplane/maas';
import { DesiredMachine, desiredFromSlice, firmwareImageFor, HopExecutor, MachineRecord, MachineSlice, RolloutEnv } from '@ioplane/rollout';
import { placementEnded } from '@ioplane/state';
import type { FleetRepository, ObservedPlacement, PlacementRepository, RolloutRepository } from '@ioplane/state';
import { acquireWaiting, MACHINE_LEASE_MS } from './machine.lease';
import { hopExecutor } from './hop.executor';
import { machineAgents, type DpuAgent } from './machine.agents';

export interface RolloutKeys {
  privateKeyPem: string;
  agentTokenSecret: string;
}

/**
 * Wires the rollout orchestrator to Redis (records, each machine's slice of the plan, artifacts
 * by digest), the agents over HTTP and MAAS. It takes no module catalog: the plan fixed every
 * build the rollout ships.
 */
export function rolloutEnv(deps: {
  rollouts: RolloutRepository;
  placements: PlacementRepository;
  fleet: FleetRepository;
  profiles: FirmwareProfile[];
  maas: MaasClient;
  keys: RolloutKeys;
  probeMs?: number;
  log(msg: string, fields: Record<string, unknown>): void;
}): RolloutEnv {
  const agentDeadlines = agentDeadlinesFromProfiles(deps.profiles);
  // Objects are immutable under their digest: each is fetched once per process, however many
  // machines and placements ship it (a failed fetch is forgotten, so the next asks again).
  const objects = new Map<string, Promise<Buffer | null>>();
  const objectOf = (digest: string): Promise<Buffer | null> => {
    let p = objects.get(digest);
    if (!p) {
      if (objects.size >= 256) objects.clear();
      p = deps.rollouts.artifact(digest);
      objects.set(digest, p);
      void p.then(
        (b) => b ?? objects.delete(digest),
        () => objects.delete(digest),
      );
    }
    return p;
  };

  const sliceOf = async (placementId: string, systemId: string): Promise<MachineSlice> => {
    const slice = await deps.rollouts.machineSlice<MachineSlice>(placementId, systemId);
    if (!slice) throw new Error(`machine ${systemId} has no part in the rollout of ${placementId}`);
    return slice;
  };

  // The machine's own slice of the plan, written when its rollout started: never the whole plan, never the catalog.
  const desired = async (placementId: string, systemId: string): Promise<DesiredMachine> =>
    desiredFromSlice(await sliceOf(placementId, systemId), objectOf, await executorOf(systemId));

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
    if (now && now.placementId === o.placementId && now.committedAt === o.committedAt)
      await deps.rollouts.setObserved({ ...now, annotated: true });
    return true;
  };

  const executorOf = async (systemId: string): Promise<HopExecutor> =>
    hopExecutor((await deps.fleet.getMachine(systemId))?.devices ?? [], deps.profiles);

  return {
    store: deps.rollouts,
    leases: {
      acquire: (placementId, systemId, holder) =>
        acquireWaiting(
          systemId,
          () =>
            deps.rollouts.acquireLease(systemId, placementId, holder, MACHINE_LEASE_MS, (owner) => placementEnded(deps.placements, owner)),
          MACHINE_LEASE_MS + 5_000,
        ),
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
      const client = (url: string, id: string) =>
        new AgentClient(url, agentToken(deps.keys.agentTokenSecret, id), { deadlines: agentDeadlines });
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
      const mp = (await sliceOf(placementId, rec.systemId)).plan;
      const modules = want.chains.flatMap((c) =>
        c.modules.map((m) => ({
          name: m.name,
          version: m.version,
          digest: m.digest,
          deviceId: c.deviceId,
          target: c.target,
          profileId: mp.placements[m.name]?.profileId ?? null,
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
      const observed: ObservedPlacement = {
        systemId: rec.systemId,
        placementId,
        committedAt: new Date().toISOString(),
        modules,
        firmware,
        previousPlacementId,
        annotated: false,
      };
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
