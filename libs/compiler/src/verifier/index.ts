export { verifyOffload, targetsFor } from './offload.verifier';
export { hostKernelLimits, HOST_KERNEL, HOST_PROFILE_ID } from './host.profile';
export { MATCH_ACTION } from './match-action.rules';
export type {
  OffloadVerdict, OffloadReason, OffloadReasonCode, TargetVerdict, TargetCheck, TargetRules, VerifierProfile,
} from './verifier.types';
