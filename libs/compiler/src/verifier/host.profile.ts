import type { ProfileLimits } from '@ioplane/domain';
import { VerifierProfile } from './verifier.types';

/** Host kernel verifier ceilings (devices.md): 1,000,000 verified insns, 512 B stack, 33 tail calls, 8 frames. */
export const HOST_KERNEL = {
  maxInstructions: 1_000_000,
  stackBytes: 512,
  maxTailCalls: 33,
  maxCallFrames: 8,
} as const;

export const HOST_PROFILE_ID = 'host-kernel';

/**
 * Built-in profile for host XDP (native and generic). Map budgets are policy defaults for host RAM,
 * not hardware limits; the tail-call chain limit (33) and frame count (8) are enforced by the kernel
 * at run and load time and cannot be judged from one object, so they are only documented here.
 */
export function hostKernelLimits(): VerifierProfile & { limits: ProfileLimits } {
  return {
    id: HOST_PROFILE_ID,
    targets: ['host-xdp-native', 'host-xdp-generic'],
    limits: {
      maxInstructions: HOST_KERNEL.maxInstructions,
      instructionExpansion: 1,
      programSlotsPerPort: 10,
      ports: 1,
      stackBytes: HOST_KERNEL.stackBytes,
      helpers: null,
      mapTypes: null,
      mapMemoryBytes: 4 * 1024 ** 3,
      maxMapEntries: 1 << 26,
      maxEntryBytes: null,
      mapFlagsAllowed: true,
      refusedOpcodes: [],
      tailCalls: true,
      bpfToBpfCalls: true,
      atomics: 'all',
      xdpActions: [0, 1, 2, 3, 4],
      flowRules: 0,
    },
  };
}
