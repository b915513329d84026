import { decodeInsns } from '../elf/bpf.insn';
import type { BpfFunction, BpfObjectWithCode } from '../elf/elf.types';
import { analyzeFunction } from './function.analysis';

function slot(opcode: number, dst: number, src: number, off: number, imm: number): Buffer {
  const b = Buffer.alloc(8);
  b[0] = opcode;
  b[1] = (src << 4) | dst;
  b.writeInt16LE(off, 2);
  b.writeInt32LE(imm, 4);
  return b;
}

/** One xdp function in an object with no relocations: enough for the register tracking. */
function single(...slots: Buffer[]): { obj: BpfObjectWithCode; fn: BpfFunction } {
  const code = Buffer.concat(slots);
  const fn: BpfFunction = {
    name: 'prog',
    section: 'xdp',
    sectionIndex: 1,
    offset: 0,
    size: code.length,
    bind: 'GLOBAL',
    entry: true,
    insns: decodeInsns(code),
  };
  const obj = {
    sections: [],
    symbols: [],
    relocations: new Map(),
    license: 'GPL',
    functions: [fn],
    sectionData: () => code,
    section: () => undefined,
  } as unknown as BpfObjectWithCode;
  return { obj, fn };
}

describe('analyzeFunction register tracking', () => {
  it('carries the state of a forward jump to its target, not the code that ends in exit before it', () => {
    // clang's layout for `if (v) { atomic add; } return XDP_PASS;` with the add placed after the exit.
    const { obj, fn } = single(
      slot(0x85, 0, 0, 0, 1), //    0: call bpf_map_lookup_elem -> r0 map value
      slot(0x55, 0, 0, 2, 0), //    1: if r0 != 0 goto 4
      slot(0xb7, 0, 0, 0, 2), //    2: r0 = XDP_PASS
      slot(0x95, 0, 0, 0, 0), //    3: exit
      slot(0xb7, 1, 0, 0, 1), //    4: r1 = 1
      slot(0xdb, 0, 1, 0, 0), //    5: lock *(u64 *)(r0 + 0) += r1
      slot(0x05, 0, 0, -5, 0), //   6: goto 2
    );
    const f = analyzeFunction(obj, fn, 'xdp');
    expect(f.atomics.map((a) => [a.insn, a.target])).toEqual([[5, 'map_value']]);
    expect(f.instructions).toBe(7);
  });

  it('merges two paths: agreeing tags stay, disagreeing ones become unknown', () => {
    const { obj, fn } = single(
      slot(0x61, 2, 1, 0, 0), //    0: r2 = ctx->data (packet)
      slot(0xbf, 3, 10, 0, 0), //   1: r3 = r10
      slot(0x15, 2, 0, 1, 0), //    2: if r2 == 0 goto 4
      slot(0xbf, 3, 2, 0, 0), //    3: r3 = r2 (packet on this path only)
      slot(0x7b, 3, 2, -8, 0), //   4: *(u64 *)(r3 - 8) = r2: through stack or packet, unknown here
      slot(0x7b, 2, 2, 0, 0), //    5: *(u64 *)(r2 + 0) = r2: a packet store on every path
      slot(0x95, 0, 0, 0, 0),
    );
    const f = analyzeFunction(obj, fn, 'xdp');
    expect(f.packetRewrites.map((w) => w.insn)).toEqual([5]);
  });

  it('fills a spilled pointer back from its 8-byte stack slot, until the slot is overwritten', () => {
    const { obj, fn } = single(
      slot(0x85, 0, 0, 0, 1), //    0: call bpf_map_lookup_elem -> r0 map value
      slot(0x7b, 10, 0, -8, 0), //  1: *(u64 *)(r10 - 8) = r0 (spill)
      slot(0x85, 0, 0, 0, 7), //    2: call bpf_get_prandom_u32: r0..r5 clobbered
      slot(0x79, 1, 10, -8, 0), //  3: r1 = *(u64 *)(r10 - 8) (fill)
      slot(0xdb, 1, 0, 0, 0), //    4: lock *(u64 *)(r1 + 0) += r0
      slot(0x62, 10, 0, -4, 9), //  5: *(u32 *)(r10 - 4) = 9 overwrites half the slot
      slot(0x79, 2, 10, -8, 0), //  6: r2 = *(u64 *)(r10 - 8)
      slot(0xdb, 2, 0, 0, 0), //    7: lock *(u64 *)(r2 + 0) += r0
      slot(0x95, 0, 0, 0, 0),
    );
    const f = analyzeFunction(obj, fn, 'xdp');
    expect(f.atomics.map((a) => [a.insn, a.target])).toEqual([
      [4, 'map_value'],
      [7, 'scalar'],
    ]);
    expect(f.stackBytes).toBe(8);
  });
});
