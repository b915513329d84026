import { BpfInsn, BPF_LD_IMM64, BPF_MODE_ATOMIC, accessBytes, memMode } from '../elf/bpf.insn';
import type { PointerKind } from './analysis.types';

export const U32_MAX = 0xffffffffn;
export const U64_MAX = 0xffffffffffffffffn;

/**
 * What a register holds, as far as a straight-line reading can tell: a pointer kind (with the frame
 * offset for stack pointers) or a scalar with an upper bound and, when known, its exact value.
 * `undefined` means unknown. This mirrors the facts the kernel verifier hands a device's verifier
 * hook (reg->type, var_off, umax_value) closely enough for the checks devices make on them.
 */
export type RegTag =
  | { kind: 'ctx' }
  | { kind: 'packet' }
  | { kind: 'stack'; off: number; /** Points into a caller's frame (an argument), not this function's. */ caller?: true }
  | { kind: 'map_value' }
  | { kind: 'map_ptr'; map: string }
  | { kind: 'scalar'; max?: bigint; value?: bigint; low32?: bigint }
  | undefined;

export function kindOf(tag: RegTag): PointerKind {
  return tag ? tag.kind : 'unknown';
}

const scalar = (max?: bigint, value?: bigint, low32?: bigint): RegTag => ({
  kind: 'scalar',
  max,
  value,
  low32: value !== undefined ? value & U32_MAX : low32,
});
const constant = (v: bigint): RegTag => scalar(v, v);

export function scalarMax(tag: RegTag): bigint | undefined {
  return tag?.kind === 'scalar' ? tag.max : undefined;
}

export function scalarValue(tag: RegTag): bigint | undefined {
  return tag?.kind === 'scalar' ? tag.value : undefined;
}

/** The low 32 bits when they are known although the whole value is not (`len << 32 | BPF_F_CURRENT_CPU`). */
export function scalarLow32(tag: RegTag): bigint | undefined {
  return tag?.kind === 'scalar' ? tag.low32 : undefined;
}

function bits(n: bigint): bigint {
  let m = 0n;
  while (m < n) m = (m << 1n) | 1n;
  return m;
}

/** Result of a 64-bit ALU op on two scalars: bounds only where they provably stay in u64. */
function alu64(op: number, a: RegTag, b: RegTag): RegTag {
  const am = scalarMax(a);
  const bm = scalarMax(b);
  const av = scalarValue(a);
  const bv = scalarValue(b);
  const fold = (f: (x: bigint, y: bigint) => bigint) => (av !== undefined && bv !== undefined ? BigInt.asUintN(64, f(av, bv)) : undefined);
  switch (op) {
    case 0x00: {
      // add
      const max = am !== undefined && bm !== undefined && am + bm <= U64_MAX ? am + bm : undefined;
      return scalar(max, max === undefined ? undefined : fold((x, y) => x + y));
    }
    case 0x20: {
      // mul
      const max = am !== undefined && bm !== undefined && am * bm <= U64_MAX ? am * bm : undefined;
      return scalar(max, max === undefined ? undefined : fold((x, y) => x * y));
    }
    case 0x40: {
      // or
      const al = scalarLow32(a);
      const bl = scalarLow32(b);
      return scalar(
        am !== undefined && bm !== undefined ? bits(am > bm ? am : bm) : undefined,
        fold((x, y) => x | y),
        al !== undefined && bl !== undefined ? al | bl : undefined,
      );
    }
    case 0x50: {
      // and
      const max = am !== undefined && bm !== undefined ? (am < bm ? am : bm) : (am ?? bm);
      return scalar(
        max,
        fold((x, y) => x & y),
      );
    }
    case 0x60: {
      // lsh
      if (bv === undefined || bv > 63n) return scalar();
      const low32 = bv >= 32n ? 0n : undefined;
      return am !== undefined && am << bv <= U64_MAX
        ? scalar(am << bv, av === undefined ? undefined : av << bv, low32)
        : scalar(undefined, undefined, low32);
    }
    case 0x70: // rsh
      if (bv === undefined || bv > 63n) return scalar();
      return scalar((am ?? U64_MAX) >> bv, av === undefined ? undefined : av >> bv);
    case 0xb0: // mov
      return b;
    default:
      return scalar();
  }
}

/** Tag of an ld_imm64's destination: a map pointer, a pointer into global data, or a 64-bit constant. */
export function ldImm64Tag(insn: BpfInsn, reference: { map?: string; data?: string } | undefined): RegTag {
  if (reference?.map) return { kind: 'map_ptr', map: reference.map };
  if (reference?.data) return { kind: 'map_value' };
  return constant(insn.imm64 ?? BigInt.asUintN(64, BigInt(insn.imm)));
}

/**
 * Steps the register file over one non-call, non-ld_imm64 instruction. `pktOffsets` are the ctx
 * offsets whose load yields a packet pointer for this program type.
 */
export function stepRegisters(regs: RegTag[], insn: BpfInsn, pktOffsets: number[]): void {
  const op = insn.opcode;
  const alu = op & 0xf0;
  switch (insn.cls) {
    case 'ALU64': {
      const d = regs[insn.dst];
      const s = op & 0x08 ? regs[insn.src] : constant(BigInt.asUintN(64, BigInt(insn.imm)));
      if (alu === 0xb0) {
        regs[insn.dst] = s;
        return;
      }
      // Pointer arithmetic keeps the pointer kind; a constant moves a stack pointer.
      if ((alu === 0x00 || alu === 0x10) && d && d.kind !== 'scalar') {
        if (d.kind === 'stack') {
          const v = scalarValue(s);
          regs[insn.dst] = v === undefined ? d : { ...d, off: d.off + Number(BigInt.asIntN(64, alu === 0x00 ? v : -v)) };
        } else if (d.kind === 'map_ptr') regs[insn.dst] = undefined;
        else regs[insn.dst] = d;
        return;
      }
      if (alu === 0x00 && s && s.kind !== 'scalar' && s.kind !== 'map_ptr' && d?.kind === 'scalar') {
        regs[insn.dst] = s;
        return;
      }
      const dd = (d ?? scalar())!;
      const ss = (s ?? scalar())!;
      regs[insn.dst] = dd.kind === 'scalar' && ss.kind === 'scalar' ? alu64(alu, dd, ss) : scalar();
      return;
    }
    case 'ALU': {
      // 32-bit results are zero-extended into the 64-bit register.
      if (alu === 0xb0 && !(op & 0x08)) regs[insn.dst] = constant(BigInt(insn.imm >>> 0));
      else if (alu === 0xb0) {
        const s = regs[insn.src];
        const m = scalarMax(s);
        regs[insn.dst] = scalar(
          m !== undefined && m < U32_MAX ? m : U32_MAX,
          scalarValue(s) !== undefined ? scalarValue(s)! & U32_MAX : undefined,
        );
      } else if (alu === 0x50 && !(op & 0x08) && insn.imm >= 0) regs[insn.dst] = scalar(BigInt(insn.imm));
      else if (alu === 0xd0)
        regs[insn.dst] = insn.imm === 16 ? scalar(0xffffn) : insn.imm === 32 ? scalar(U32_MAX) : scalar(); // be16/32/64, le16/32/64
      else regs[insn.dst] = scalar(U32_MAX);
      return;
    }
    case 'LDX': {
      const base = regs[insn.src];
      const size = accessBytes(insn);
      if (base?.kind === 'ctx' && pktOffsets.includes(insn.off)) regs[insn.dst] = { kind: 'packet' };
      else if (memMode(insn) === 0x80)
        regs[insn.dst] = scalar(); // sign-extending load
      else regs[insn.dst] = size === 8 ? scalar() : scalar((1n << BigInt(size * 8)) - 1n);
      return;
    }
    case 'STX':
      if (memMode(insn) === BPF_MODE_ATOMIC && insn.imm & 0x01) regs[insn.imm === 0xf1 ? 0 : insn.src] = scalar();
      return;
    case 'LD':
      if (op !== BPF_LD_IMM64) regs[0] = scalar(U32_MAX);
      return;
    default:
      return;
  }
}

/** What a callee's r1..r5 hold, seen from one call site: a stack pointer becomes a pointer into the caller's frame. */
export function argumentTags(regs: RegTag[]): RegTag[] {
  return [1, 2, 3, 4, 5].map((r) => {
    const t = regs[r];
    return t?.kind === 'stack' ? { ...t, caller: true as const } : t;
  });
}

/** Arguments every call site agrees on; where two sites differ the callee learns nothing. */
export function mergeArgumentTags(a: RegTag[] | undefined, b: RegTag[]): RegTag[] {
  return a ? mergeRegisters(a, b) : b;
}

function sameTag(a: RegTag, b: RegTag): boolean {
  if (a === b) return true;
  if (!a || !b || a.kind !== b.kind) return false;
  return (
    JSON.stringify(a, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v)) ===
    JSON.stringify(b, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))
  );
}

/** One register where two paths meet: what both agree on (a scalar keeps the larger bound). */
export function mergeTag(a: RegTag, b: RegTag): RegTag {
  if (sameTag(a, b)) return a;
  if (a?.kind === 'scalar' && b?.kind === 'scalar') {
    const max = a.max !== undefined && b.max !== undefined ? (a.max > b.max ? a.max : b.max) : undefined;
    const value = a.value !== undefined && a.value === b.value ? a.value : undefined;
    const low32 = a.low32 !== undefined && a.low32 === b.low32 ? a.low32 : undefined;
    return { kind: 'scalar', max, value, low32 };
  }
  return undefined;
}

export function mergeRegisters(a: RegTag[], b: RegTag[]): RegTag[] {
  return a.map((t, i) => mergeTag(t, b[i]));
}
