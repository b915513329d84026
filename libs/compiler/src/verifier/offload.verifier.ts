import type { Target } from '@ioplane/domain';
import type { ObjectFacts } from '../analysis/analysis.types';
import { ebpfLimitReasons } from './ebpf-limits.rules';
import { matchActionReasons } from './match-action.rules';
import { OffloadReason, OffloadVerdict, TargetCheck, TargetVerdict, VerifierProfile } from './verifier.types';

const FLOW_TARGETS: readonly Target[] = ['nic-flow-offload', 'dpu-flow-offload'];

/** The profile's targets and which rule set judges each: flow offload takes only pure match-action programs. */
export function targetsFor(profile: Pick<VerifierProfile, 'targets'>): TargetCheck[] {
  return profile.targets.map((target) => ({ target, rules: FLOW_TARGETS.includes(target) ? 'match-action' : 'ebpf-limits' }));
}

/**
 * Check one program of an analysed object against a profile, reporting every violation (not the first).
 * Only profile data drives the rules; there is no per-vendor code.
 */
export function verifyOffload(facts: ObjectFacts, program: string, profile: VerifierProfile): OffloadVerdict {
  const checks = targetsFor(profile);
  const p =
    facts.programs.find((x) => x.name === program) ??
    (facts.programs.filter((x) => x.section === program).length === 1 ? facts.programs.find((x) => x.section === program) : undefined);
  if (!p) {
    const known = facts.programs.map((x) => `${x.name} (${x.section})`).join(', ') || 'none';
    const reason: OffloadReason = { code: 'program', message: `no program ${program} in the object (programs: ${known})`, actual: program };
    return {
      profileId: profile.id,
      program,
      targets: checks.map((c) => ({ ...c, accepted: false, reasons: [reason] })),
      acceptedTargets: [],
      accepted: false,
      reasons: [reason],
    };
  }
  const who = profile.id;
  // eBPF-limit reasons are the same for every program target of a profile; compute them once.
  const limitReasons = checks.some((c) => c.rules === 'ebpf-limits') ? ebpfLimitReasons(facts, p, profile.limits, who) : [];
  const targets: TargetVerdict[] = checks.map((c) => {
    const reasons = c.rules === 'ebpf-limits' ? limitReasons : matchActionReasons(facts, p, profile.limits, c.target, who);
    return { ...c, accepted: reasons.length === 0, reasons };
  });
  const acceptedTargets = targets.filter((t) => t.accepted).map((t) => t.target);
  return {
    profileId: profile.id,
    program: p.name,
    targets,
    acceptedTargets,
    accepted: acceptedTargets.length > 0,
    reasons: [...limitReasons, ...targets.filter((t) => t.rules === 'match-action').flatMap((t) => t.reasons)],
  };
}
