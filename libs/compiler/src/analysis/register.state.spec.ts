import { decodeInsns } from '../elf/bpf.insn';
import { RegTag, U32_MAX, ldImm64Tag, scalarLow32, scalarMax, scalarValue, stepRegisters } from './register.state';

/** One eBPF slot: opcode, dst, src, off, imm. */
function slot(opcode: number, dst: number, src: number, off: number, imm: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = opcode;
  b[1] = (src << 4) | dst;
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b;
}

function run(...slots: Buffer[]): RegTag[] {
  const regs: RegTag[] = new Array(11).fill(undefined);
  regs[1] = { kind: 'ctx' };
  regs[10] = { kind: 'stack', off: 0 };
  // As the function analysis does: ld_imm64 is tagged on its own (map, global data or constant).
  for (const insn of decodeInsns(Buffer.concat(slots))) {
    if (insn.opcode === 0x18) regs[insn.dst] = ldImm64Tag(insn, undefined);
    else stepRegisters(regs, insn, [0, 4]);
  }
  return regs;
}

describe('stepRegisters', () => {
  it('bounds loads by their width, 32-bit results by u32, and gives up on 64-bit loads and byte swaps', () => {
    const r = run(
      slot(0x71, 2, 1, 12, 0),
      slot(0x61, 3, 1, 12, 0),
      slot(0x79, 4, 1, 12, 0),
      slot(0x24, 4, 0, 0, 3),
      slot(0x79, 5, 1, 12, 0),
      slot(0xdc, 5, 0, 0, 64),
    );
    expect([scalarMax(r[2]), scalarMax(r[3]), scalarMax(r[4]), scalarMax(r[5])]).toEqual([0xffn, U32_MAX, U32_MAX, undefined]);
  });

  it('turns ctx data loads into packet pointers and follows the stack pointer through arithmetic', () => {
    const r = run(slot(0x61, 2, 1, 0, 0), slot(0xbf, 3, 10, 0, 0), slot(0x07, 3, 0, 0, -8), slot(0x0f, 2, 0, 0, 0));
    expect(r[2]).toEqual({ kind: 'packet' });
    expect(r[3]).toEqual({ kind: 'stack', off: -8 });
  });

  it('folds constants, and keeps the low 32 bits of `len << 32 | BPF_F_CURRENT_CPU`', () => {
    const r = run(
      slot(0xb7, 2, 0, 0, 6),
      slot(0x27, 2, 0, 0, 7),
      slot(0x79, 3, 1, 12, 0),
      slot(0x67, 3, 0, 0, 32),
      slot(0x18, 4, 0, 0, -1),
      slot(0, 0, 0, 0, 0),
      slot(0x4f, 3, 4, 0, 0),
    );
    expect(scalarValue(r[2])).toBe(42n);
    expect(scalarValue(r[3])).toBeUndefined();
    expect(scalarLow32(r[3])).toBe(U32_MAX);
  });
});
