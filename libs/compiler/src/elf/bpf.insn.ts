/** eBPF instruction classes (low 3 bits of the opcode). */
export const BPF_CLASS = { LD: 0, LDX: 1, ST: 2, STX: 3, ALU: 4, JMP: 5, JMP32: 6, ALU64: 7 } as const;
export type InsnClass = keyof typeof BPF_CLASS;
const CLASS_NAMES: InsnClass[] = ['LD', 'LDX', 'ST', 'STX', 'ALU', 'JMP', 'JMP32', 'ALU64'];

export const BPF_LD_IMM64 = 0x18;
export const BPF_CALL = 0x85;
export const BPF_EXIT = 0x95;
export const BPF_MODE_ATOMIC = 0xc0;
export const BPF_MODE_MEM = 0x60;
export const BPF_MODE_MEMSX = 0x80;
/** Call src_reg values. */
export const PSEUDO_CALL = 1;
export const PSEUDO_KFUNC_CALL = 2;

const ALU_OPS = ['add', 'sub', 'mul', 'div', 'or', 'and', 'lsh', 'rsh', 'neg', 'mod', 'xor', 'mov', 'arsh', 'end'];
const JMP_OPS = ['ja', 'jeq', 'jgt', 'jge', 'jset', 'jne', 'jsgt', 'jsge', 'call', 'exit', 'jlt', 'jle', 'jslt', 'jsle', 'may_goto'];
const SIZE_SUFFIX = ['w', 'h', 'b', 'dw'];
const SIZE_BYTES = [4, 2, 1, 8];

export interface BpfInsn {
  /** Slot index inside its section (the number llvm-objdump prints). */
  index: number;
  opcode: number;
  cls: InsnClass;
  dst: number;
  src: number;
  off: number;
  imm: number;
  /** ld_imm64 only: the full 64-bit immediate from both slots. */
  imm64?: bigint;
  /** 2 for ld_imm64, else 1. */
  slots: 1 | 2;
}

/** Decode a code section; ld_imm64 consumes two slots but is one instruction. */
export function decodeInsns(code: Buffer, firstSlot = 0): BpfInsn[] {
  const out: BpfInsn[] = [];
  const slots = Math.floor(code.length / 8);
  for (let s = 0; s < slots; s++) {
    const p = s * 8;
    const opcode = code[p];
    const regs = code[p + 1];
    const insn: BpfInsn = {
      index: firstSlot + s,
      opcode,
      cls: CLASS_NAMES[opcode & 7],
      dst: regs & 0x0f,
      src: regs >> 4,
      off: code.readInt16LE(p + 2),
      imm: code.readInt32LE(p + 4),
      slots: 1,
    };
    if (opcode === BPF_LD_IMM64 && s + 1 < slots) {
      const hi = code.readUInt32LE(p + 12);
      insn.imm64 = (BigInt(hi) << 32n) | BigInt(code.readUInt32LE(p + 4));
      insn.slots = 2;
      s++;
    }
    out.push(insn);
  }
  return out;
}

export function accessBytes(insn: BpfInsn): number {
  return SIZE_BYTES[(insn.opcode >> 3) & 3];
}

export function memMode(insn: BpfInsn): number {
  return insn.opcode & 0xe0;
}

export function isJump(insn: BpfInsn): boolean {
  if (insn.cls !== 'JMP' && insn.cls !== 'JMP32') return false;
  const op = insn.opcode & 0xf0;
  return op !== 0x80 && op !== 0x90;
}

export function isConditionalJump(insn: BpfInsn): boolean {
  return isJump(insn) && (insn.opcode & 0xf0) !== 0x00 && insn.opcode !== 0xe5;
}

/** Slot index a jump lands on; the 32-bit `gotol` (JMP32|JA) carries its offset in imm. */
export function jumpTarget(insn: BpfInsn): number {
  const delta = insn.opcode === 0x06 ? insn.imm : insn.off;
  return insn.index + delta + 1;
}

export type AtomicOpName = 'add' | 'or' | 'and' | 'xor' | 'xchg' | 'cmpxchg' | 'unknown';

export function atomicOp(imm: number): { op: AtomicOpName; fetch: boolean } {
  if (imm === 0xe1) return { op: 'xchg', fetch: true };
  if (imm === 0xf1) return { op: 'cmpxchg', fetch: true };
  const fetch = (imm & 0x01) !== 0;
  const op = ({ 0x00: 'add', 0x40: 'or', 0x50: 'and', 0xa0: 'xor' } as Record<number, AtomicOpName>)[imm & ~1] ?? 'unknown';
  return { op, fetch };
}

/** Short mnemonic for one opcode (e.g. `mod64 reg`, `ldxw`, `call`), used in reports. */
export function opcodeMnemonic(opcode: number, imm = 0): string {
  const cls = opcode & 7;
  const src = opcode & 0x08 ? 'reg' : 'imm';
  switch (cls) {
    case BPF_CLASS.ALU:
    case BPF_CLASS.ALU64: {
      const op = ALU_OPS[opcode >> 4] ?? `alu?${(opcode >> 4).toString(16)}`;
      const bits = cls === BPF_CLASS.ALU64 ? '64' : '32';
      if (op === 'end') return cls === BPF_CLASS.ALU64 ? 'bswap' : opcode & 0x08 ? 'be' : 'le';
      if (op === 'neg') return `neg${bits}`;
      return `${op}${bits} ${src}`;
    }
    case BPF_CLASS.JMP:
    case BPF_CLASS.JMP32: {
      const op = JMP_OPS[opcode >> 4] ?? `jmp?${(opcode >> 4).toString(16)}`;
      if (op === 'call' || op === 'exit' || op === 'may_goto') return op;
      if (op === 'ja') return cls === BPF_CLASS.JMP32 ? 'gotol' : 'ja';
      return `${op}${cls === BPF_CLASS.JMP32 ? '32' : ''} ${src}`;
    }
    default: {
      const size = SIZE_SUFFIX[(opcode >> 3) & 3];
      const mode = opcode & 0xe0;
      if (opcode === BPF_LD_IMM64) return 'lddw';
      if (cls === BPF_CLASS.LD) return mode === 0x20 ? `ldabs${size}` : mode === 0x40 ? `ldind${size}` : `ld?${size}`;
      if (mode === BPF_MODE_ATOMIC) {
        const { op, fetch } = atomicOp(imm);
        return `atomic_${op}${fetch && op !== 'xchg' && op !== 'cmpxchg' ? '_fetch' : ''}${size === 'dw' ? '64' : '32'}`;
      }
      if (mode === BPF_MODE_MEMSX) return `ldxs${size}`;
      return `${['ld', 'ldx', 'st', 'stx'][cls]}${size}`;
    }
  }
}

function operand(insn: BpfInsn): string {
  return insn.opcode & 0x08 ? `r${insn.src}` : String(insn.imm);
}

function memRef(reg: number, off: number): string {
  return `[r${reg}${off < 0 ? off : `+${off}`}]`;
}

/** One-line disassembly for display (kernel/ubpf style, not llvm's C-like syntax). */
export function formatInsn(insn: BpfInsn): string {
  const m = opcodeMnemonic(insn.opcode, insn.imm).split(' ')[0];
  switch (insn.cls) {
    case 'ALU':
    case 'ALU64':
      if ((insn.opcode & 0xf0) === 0xd0) return `${m}${insn.imm} r${insn.dst}`;
      if ((insn.opcode & 0xf0) === 0x80) return `${m} r${insn.dst}`;
      return `${m} r${insn.dst}, ${operand(insn)}`;
    case 'JMP':
    case 'JMP32': {
      const op = insn.opcode & 0xf0;
      if (op === 0x90) return 'exit';
      if (op === 0x80)
        return insn.src === 0 ? `call ${insn.imm}` : `call ${insn.src === 1 ? 'pc' : 'kfunc'}${insn.imm >= 0 ? '+' : ''}${insn.imm}`;
      const target = jumpTarget(insn);
      if (op === 0x00 || insn.opcode === 0xe5) return `${m} ${target}`;
      return `${m} r${insn.dst}, ${operand(insn)}, ${target}`;
    }
    case 'LDX':
      return `${m} r${insn.dst}, ${memRef(insn.src, insn.off)}`;
    case 'ST':
      return `${m} ${memRef(insn.dst, insn.off)}, ${insn.imm}`;
    case 'STX':
      return `${m} ${memRef(insn.dst, insn.off)}, r${insn.src}`;
    default:
      if (insn.opcode === BPF_LD_IMM64)
        return `lddw r${insn.dst}, ${insn.src ? `pseudo${insn.src} ` : ''}0x${(insn.imm64 ?? 0n).toString(16)}`;
      return `${m} ${insn.imm}`;
  }
}
