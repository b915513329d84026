export { verifyOffload, targetsFor } from './offload.verifier';
export { hostKernelLimits, HOST_KERNEL, HOST_PROFILE_ID } from './host.profile';
export { MATCH_ACTION } from './match-action.rules';
export type {
  OffloadVerdict,
  OffloadReason,
  OffloadReasonCode,
  TargetVerdict,
  TargetCheck,
  TargetRules,
  VerifierProfile,
} from './verifier.types';
export { deployedProgram, kernelLoadType, summarizePrograms } from './program.summary';
export type { ProgramSummary } from './program.summary';
export { DRIVER_RULES, deviceStackBytes } from './offload-driver.rules';
