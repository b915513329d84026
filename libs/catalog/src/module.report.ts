import type {
  BuildArtifact,
  KernelVerifyResult,
  MapFacts,
  OffloadVerdict,
  ProgramFacts,
  ProgramSummary,
  VectorResult,
} from '@ioplane/compiler';

export interface ModuleCost {
  /**
   * Host nanoseconds per packet as measured (median over the passing vectors, BPF_PROG_TEST_RUN)
   * when the kernel allows, else estimated. Measured, it includes the harness's own cost.
   */
  nsPerPacket: number;
  estimated: boolean;
  source: 'kernel' | 'estimate';
  /**
   * The measurement harness's own cost: an empty XDP program (returns XDP_PASS) timed on the same
   * packets with the same repeat, median. Kept apart from nsPerPacket; placement subtracts it.
   * Absent when nothing was measured or the empty program could not run.
   */
  harnessNs?: number;
}

/** Everything ioplane knows of one module build: what placement reads, what operators are shown. */
export interface ModuleReport {
  module: { name: string; version: string; origin: 'catalog' | 'object' };
  artifact: BuildArtifact;
  /** The deployed program: the object's verdicts are its verdicts. */
  program: ProgramFacts;
  /** Every program of the object, the deployed one marked, each with its own verdicts. */
  programs: ProgramSummary[];
  /** Maps the program references, with their definitions. */
  maps: MapFacts[];
  /** Host kernel limits first, then every profile asked for. */
  verdicts: OffloadVerdict[];
  kernel: { available: boolean; reason?: string; verify: KernelVerifyResult | null };
  /** null when the kernel cannot run programs here. */
  vectors: VectorResult[] | null;
  cost: ModuleCost;
}

export function reportPassed(r: ModuleReport): boolean {
  const kernelOk = !r.kernel.verify || r.kernel.verify.accepted;
  const vectorsOk = !r.vectors || r.vectors.every((v) => v.passed);
  return kernelOk && vectorsOk;
}
