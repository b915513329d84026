/** Fixed cost of running any XDP program per packet (XDP counter + pass, CoNEXT 2018 XDP paper). */
export const XDP_BASE_NS = 13.3;
/** Average cost of one executed eBPF instruction after JIT on a ~3 GHz host core (estimate). */
export const NS_PER_INSN = 0.35;

/**
 * Per-packet cost when no kernel is available to measure it: XDP_BASE_NS + NS_PER_INSN per
 * instruction executed. An estimate only: it ignores map lookups, cache misses and helper cost,
 * and `insnCount` is an upper bound on instructions executed (every path counted).
 */
export function estimateNsPerPacket(insnCount: number): { ns: number; estimated: true } {
  const n = Number.isFinite(insnCount) && insnCount > 0 ? insnCount : 0;
  return { ns: Math.round((XDP_BASE_NS + NS_PER_INSN * n) * 100) / 100, estimated: true };
}
