import type { ObjectFacts, ProgramFacts, ProgramType } from '../analysis/analysis.types';
import type { KernelVerifyResult } from '../kernel/kernel.verify';
import { verifyOffload } from './offload.verifier';
import type { OffloadReason, VerifierProfile } from './verifier.types';

/** One program of an object, as a report lists every one of them. */
export interface ProgramSummary {
  name: string;
  section: string;
  type: ProgramType;
  attachType: string | null;
  typeSource: ProgramFacts['typeSource'];
  /** True for the program the module deploys (its verdicts are the object's). */
  deployed: boolean;
  /** 8-byte slots of its own function (symbol size / 8) and with every subprogram it calls. */
  slots: number;
  totalSlots: number;
  /** Helper ids called, ascending, subprograms included. */
  helpers: number[];
  maps: string[];
  stackBytes: number;
  verdicts: Array<{ profileId: string; accepted: boolean; acceptedTargets: string[]; reasons: OffloadReason[] }>;
  /**
   * The kernel's word: `accepted` / `refused` (libbpf named it), `not_loaded` (the all-or-nothing load
   * stopped at another program first), `not_run` (no kernel check).
   */
  kernel: 'accepted' | 'refused' | 'not_loaded' | 'not_run';
}

/** Programs ioplane can deploy: XDP first, then tc; a lone program is deployed whatever it is. */
const DEPLOYABLE: ProgramType[] = ['xdp', 'sched_cls', 'sched_act'];

/**
 * The program a module deploys: the one named (function, else the only program of that section),
 * else the object's only program, else its first XDP program (not a devmap/cpumap one), else its first
 * tc program, else its first program. Undefined when a name matches nothing.
 */
export function deployedProgram(facts: ObjectFacts, program?: string): ProgramFacts | undefined {
  const ps = facts.programs;
  if (program) return ps.find((p) => p.name === program) ?? ps.find((p) => p.section === program);
  if (ps.length <= 1) return ps[0];
  const port = (p: ProgramFacts) => p.attachType !== 'XDP_DEVMAP' && p.attachType !== 'XDP_CPUMAP';
  for (const t of DEPLOYABLE) {
    const hit = ps.find((p) => p.type === t && port(p));
    if (hit) return hit;
  }
  return ps[0];
}

/**
 * The `type` a kernel check gives `bpftool prog loadall`, which applies it to every program of the
 * object: the given type when the deployed program's came from the manifest or --type; else, when
 * some program sits in a section libbpf cannot type (which would fail the whole load), the deployed
 * program's own section name (bpftool reads it as libbpf does); else none, and libbpf types each program from its section.
 */
export function kernelLoadType(facts: ObjectFacts, deployed: ProgramFacts, given: string | undefined): string | undefined {
  if (deployed.typeSource === 'given') return given;
  if (deployed.typeSource === 'section' && facts.programs.some((p) => p.typeSource === 'unknown')) return deployed.section;
  return undefined;
}

function kernelWord(name: string, k: KernelVerifyResult | null): ProgramSummary['kernel'] {
  if (!k) return 'not_run';
  if (k.accepted) return k.loadedPrograms.includes(name) ? 'accepted' : 'not_loaded';
  return k.refusedProgram === undefined || k.refusedProgram === name ? 'refused' : 'not_loaded';
}

/** Every program of the object with its facts and its verdict per profile. */
export function summarizePrograms(
  facts: ObjectFacts,
  profiles: VerifierProfile[],
  deployed: string,
  kernel: KernelVerifyResult | null,
): ProgramSummary[] {
  return facts.programs.map((p) => ({
    name: p.name,
    section: p.section,
    type: p.type,
    attachType: p.attachType,
    typeSource: p.typeSource,
    deployed: p.name === deployed,
    slots: p.instructions,
    totalSlots: p.totalInstructions,
    helpers: p.helpers.map((h) => h.id),
    maps: p.maps.map((m) => m.name),
    stackBytes: p.maxStackDepth,
    verdicts: profiles.map((profile) => {
      const v = verifyOffload(facts, p.name, profile);
      return { profileId: v.profileId, accepted: v.accepted, acceptedTargets: v.acceptedTargets, reasons: v.reasons };
    }),
    kernel: kernelWord(p.name, kernel),
  }));
}
