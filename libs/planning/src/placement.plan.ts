import type { MachinePlan, ScopedPlacement } from '@ioplane/placement';
import type { ArtifactRef } from '@ioplane/rollout';

/** A machine the selector matched but that cannot take a placement now. */
export interface SkippedMachine {
  systemId: string;
  hostname: string;
  reason: string;
}

/** The stored plan of a placement job: one entry per machine, every decision with its reasons. */
export interface StoredPlan {
  placementId: string;
  createdAt: string;
  /** True only when every machine and every fleet-scoped module is feasible. */
  complete: boolean;
  /**
   * The chain. nsPerPacket is the host cost per packet placement used; `cost` says where it came
   * from (measured minus the harness, or an estimate); passRatio is what the next module sees.
   */
  modules: Array<{
    name: string;
    version: string;
    chainPosition: number;
    digest: string;
    nsPerPacket: number;
    costEstimated: boolean;
    passRatio?: number;
    cost?: { nsPerPacket: number; measuredNs: number; harnessNs: number | null; source: string };
    /** What the rollout ships, by the sha256 of the object's bytes (`digest` above is the build's). Absent in plans made before plans carried it. */
    artifact?: ArtifactRef;
  }>;
  machines: MachinePlan[];
  skipped: SkippedMachine[];
  scoped: ScopedPlacement[];
  stats: { machines: number; classes: number; solves: number; cacheHits: number; infeasibleMachines: number; seconds: number };
}
