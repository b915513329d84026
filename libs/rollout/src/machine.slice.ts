import { createHash } from 'node:crypto';
import { CodedError } from '@ioplane/domain';
import { desiredState, DesiredMachine, HopExecutor, PlannedMachine, RolloutModule } from './machine.desired';

/**
 * A module as the plan refers to it: the built object by the sha256 of its bytes (what agents
 * check signatures over), and everything the agent's load and the health check need besides the
 * bytes. The planner fixes it from its own build and analysis, so the rollout never asks the catalog.
 */
export type ArtifactRef = Omit<RolloutModule, 'object'>;

/**
 * One machine's part of a placement's plan, written once when its rollout starts: all a machine
 * job, a wave's commit, a rollback or the reconciler reads of the plan for that machine.
 */
export interface MachineSlice {
  plan: PlannedMachine;
  /** The chain's module names in order (plans made before ports existed order chains by it). */
  order: string[];
  /** The modules this machine runs, by digest. */
  modules: ArtifactRef[];
  /** The placement's policy.acceptNotRun. */
  acceptNotRun?: boolean;
}

export type SliceErrorCode = 'plan_without_artifacts' | 'artifact_missing' | 'artifact_digest_mismatch';

/** A plan or an artifact store that cannot give a rollout the exact bytes it planned. */
export class SliceError extends CodedError<SliceErrorCode> {}

/** The modules a machine's plan puts anywhere on it. */
function modulesOf(plan: PlannedMachine): Set<string> {
  const names = new Set(Object.keys(plan.placements));
  for (const path of plan.paths ?? []) for (const hop of path.hops) names.add(hop.module);
  return names;
}

/**
 * Cuts a stored plan into per-machine slices: each carries its own machine plan and the artifact
 * references of the modules it runs. A plan whose modules carry no artifact reference (made
 * before plans did) cannot be rolled out without the catalog: refused, to be planned again.
 */
export function sliceMachines(
  placementId: string,
  machines: PlannedMachine[],
  modules: Array<{ name: string; artifact?: ArtifactRef }>,
  acceptNotRun: boolean,
): Record<string, MachineSlice> {
  const order = modules.map((m) => m.name);
  const out: Record<string, MachineSlice> = {};
  for (const plan of machines) {
    const used = modulesOf(plan);
    const refs = modules
      .filter((m) => used.has(m.name))
      .map((m) => {
        if (!m.artifact)
          throw new SliceError(
            'plan_without_artifacts',
            `placement ${placementId}: module ${m.name} has no artifact reference in its plan (planned before plans carried them): plan it again`,
          );
        return m.artifact;
      });
    out[plan.systemId] = { plan, order, modules: refs, ...(acceptNotRun ? { acceptNotRun: true } : {}) };
  }
  return out;
}

/** sha256 hex of an object's bytes: an artifact's address. */
export function artifactDigest(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The machine's desired state from its slice: each module's bytes are fetched by digest and must
 * hash to it (a store holding other bytes under the address would ship an unplanned build).
 */
export async function desiredFromSlice(
  slice: MachineSlice,
  object: (digest: string) => Promise<Buffer | null>,
  executor?: HopExecutor,
): Promise<DesiredMachine> {
  const mods = new Map<string, RolloutModule>();
  await Promise.all(
    slice.modules.map(async (ref) => {
      const bytes = await object(ref.digest);
      if (!bytes) throw new SliceError('artifact_missing', `module ${ref.name}: no object stored under ${ref.digest.slice(0, 12)}`);
      if (artifactDigest(bytes) !== ref.digest)
        throw new SliceError(
          'artifact_digest_mismatch',
          `module ${ref.name}: the object stored under ${ref.digest.slice(0, 12)} hashes to ${artifactDigest(bytes).slice(0, 12)}`,
        );
      mods.set(ref.name, { ...ref, object: bytes });
    }),
  );
  const want = desiredState(slice.plan, slice.order, mods, executor);
  return slice.acceptNotRun ? { ...want, acceptNotRun: true } : want;
}
