import type { FirmwareProfile, Target } from '@ioplane/domain';

export type OffloadReasonCode =
  | 'program'
  | 'program_type'
  | 'helper'
  | 'map_type'
  | 'map_flags'
  | 'map_entries'
  | 'map_entry_size'
  | 'map_memory'
  | 'map_unknown'
  | 'instructions'
  | 'stack'
  | 'opcode'
  | 'tail_call'
  | 'bpf_call'
  | 'kfunc'
  | 'atomic'
  | 'xdp_action'
  | 'loop'
  | 'packet_rewrite'
  | 'global_state'
  | 'flow_rules'
  | 'attach_type'
  | 'helper_args'
  | 'map_write'
  | 'ctx_access'
  | 'alu_width';

export interface OffloadReason {
  code: OffloadReasonCode;
  /** The rule that refused: one check of the profile (a device driver's rules are named in offload-driver.rules.ts). */
  rule?: string;
  message: string;
  /** The device driver's own message for this refusal, as the kernel would log it. */
  driverMessage?: string;
  /** Driver file and function that makes the check. */
  source?: string;
  /** Slot index in `section` (as llvm-objdump numbers it). */
  insn?: number;
  function?: string;
  section?: string;
  map?: string;
  limit?: number | string;
  actual?: number | string;
  /** Set when the reason concerns one target only (flow-offload purity); unset reasons hold for every program target. */
  target?: Target;
}

/** How a target judges a program: the profile's eBPF limits, or the pure match-action rules of flow offload. */
export type TargetRules = 'ebpf-limits' | 'match-action';

export interface TargetCheck {
  target: Target;
  rules: TargetRules;
}

export interface TargetVerdict extends TargetCheck {
  accepted: boolean;
  reasons: OffloadReason[];
}

export interface OffloadVerdict {
  profileId: string;
  program: string;
  /** Every target of the profile that was checked. */
  targets: TargetVerdict[];
  acceptedTargets: Target[];
  /** True when at least one target of the profile takes the program. */
  accepted: boolean;
  /** Every violation across targets; limit reasons appear once even when several targets share them. */
  reasons: OffloadReason[];
}

/** What the verifier reads from a profile: the built-in host profile has no vendor, PCI ids or flash method. */
export type VerifierProfile = Pick<FirmwareProfile, 'id' | 'targets' | 'limits'>;
