import { readFileSync } from 'fs';
import { BpfFixtures, Fixture, NO_PROGRAM_C, ROUTER_C, STRIPPER_C } from './bpf.fixtures';
import { atomicOp, decodeInsns, formatInsn, opcodeMnemonic } from './bpf.insn';
import { readBpfObject } from './bpf.programs';
import { ElfError } from './elf.error';
import { readElf } from './elf.reader';
import { R_BPF, SHF_EXECINSTR } from './elf.types';

function elfError(fn: () => unknown): ElfError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ElfError) return err;
    throw err;
  }
  throw new Error('expected an ElfError');
}

describe('readBpfObject', () => {
  const fixtures = new BpfFixtures();
  let router: Fixture;
  let stripper: Fixture;

  beforeAll(() => {
    router = fixtures.compile('router', ROUTER_C);
    stripper = fixtures.compile('stripper', STRIPPER_C);
  });
  afterAll(() => fixtures.cleanup());

  it('reads sections, symbols, relocations and the license of a clang object', () => {
    const obj = readBpfObject(router.buf);
    const xdp = obj.section('xdp')!;
    expect(xdp.flags & SHF_EXECINSTR).toBeTruthy();
    expect(obj.section('.maps')).toBeDefined();
    expect(obj.section('.BTF')).toBeDefined();
    expect(obj.license).toBe('GPL');

    const routes = obj.symbols.find((s) => s.name === 'routes')!;
    expect(routes).toMatchObject({ type: 'OBJECT', bind: 'GLOBAL' });
    expect(obj.sections[routes.sectionIndex].name).toBe('.maps');
    const route = obj.symbols.find((s) => s.name === 'route')!;
    expect(route).toMatchObject({ type: 'FUNC', sectionIndex: xdp.index, value: 0, size: xdp.size });
    expect(obj.symbols.find((s) => s.name === 'mix')).toMatchObject({ type: 'FUNC', bind: 'LOCAL' });

    const rels = obj.relocations.get('xdp')!;
    const mapRel = rels.filter((r) => r.type === R_BPF.R_BPF_64_64).map((r) => obj.symbols[r.symbol].name);
    expect(mapRel).toEqual(expect.arrayContaining(['routes', 'flows', 'rounds']));
    // The call into .text relocates against the section symbol.
    expect(rels.some((r) => r.type === R_BPF.R_BPF_64_32 && obj.symbols[r.symbol].name === '.text')).toBe(true);
  });

  it('splits code sections into functions whose instruction counts match llvm-objdump', () => {
    for (const fx of [router, stripper]) {
      const obj = readBpfObject(fx.buf);
      for (const fn of obj.functions) {
        const dis = fx.disasm.get(fn.name)!;
        expect({ fn: fn.name, count: fn.insns.length }).toEqual({ fn: fn.name, count: dis.length });
        expect(fn.insns.map((i) => i.index)).toEqual(dis.map((d) => d.index));
      }
    }
    const strip = readBpfObject(stripper.buf);
    expect(strip.functions.map((f) => [f.name, f.section, f.entry])).toEqual([
      ['strip', 'xdp', true],
      ['acl', 'xdp', true],
      ['mark', 'tc', true],
    ]);
    expect(strip.license).toBe('Dual BSD/GPL');
    // Two programs share the xdp section: the second starts where the first ends.
    const [s, a] = strip.functions;
    expect(a.offset).toBe(s.offset + s.size);
    expect(a.insns[0].index).toBe(a.offset / 8);
  });

  it('decodes ld_imm64 as one instruction spanning two slots', () => {
    const obj = readBpfObject(router.buf);
    const route = obj.functions.find((f) => f.name === 'route')!;
    const lddw = route.insns.filter((i) => i.opcode === 0x18);
    expect(lddw.length).toBeGreaterThan(0);
    for (const l of lddw) {
      expect(l.slots).toBe(2);
      const next = route.insns[route.insns.indexOf(l) + 1];
      expect(next.index).toBe(l.index + 2);
    }
    const call69 = route.insns.find((i) => i.opcode === 0x85 && i.imm === 69)!;
    expect(formatInsn(call69)).toBe('call 69');
    expect(route.insns.find((i) => i.opcode === 0x9f)).toMatchObject({ cls: 'ALU64', dst: 0, src: 1 });
    expect(opcodeMnemonic(0x9f)).toBe('mod64 reg');
  });

  it('decodes hand-written instructions: registers, signed offsets, atomics', () => {
    const bytes = Buffer.from([
      0x7b,
      0x1a,
      0xf8,
      0xff,
      0,
      0,
      0,
      0, // *(u64 *)(r10 - 8) = r1
      0xdb,
      0x21,
      0,
      0,
      0xf1,
      0,
      0,
      0, // cmpxchg64
      0xc3,
      0x21,
      0,
      0,
      0x41,
      0,
      0,
      0, // atomic fetch_or32
      0x05,
      0x00,
      0xfd,
      0xff,
      0,
      0,
      0,
      0, // goto -3
    ]);
    const [st, cas, or, ja] = decodeInsns(bytes);
    expect(st).toMatchObject({ cls: 'STX', dst: 10, src: 1, off: -8 });
    expect(formatInsn(st)).toBe('stxdw [r10-8], r1');
    expect(atomicOp(cas.imm)).toEqual({ op: 'cmpxchg', fetch: true });
    expect(atomicOp(or.imm)).toEqual({ op: 'or', fetch: true });
    expect(opcodeMnemonic(or.opcode, or.imm)).toBe('atomic_or_fetch32');
    expect(formatInsn(ja)).toBe('ja 1');
  });

  describe('bad input', () => {
    it('refuses non-ELF bytes', () => {
      const err = elfError(() => readBpfObject(Buffer.from('#!/bin/sh\necho not an object\n')));
      expect(err).toMatchObject({ code: 'not_elf', field: 'e_ident[EI_MAG]' });
      expect(err.message).toMatch(/not an ELF file/);
    });

    it('refuses an x86-64 executable by its machine', () => {
      const err = elfError(() => readBpfObject(readFileSync('/bin/true')));
      expect(err).toMatchObject({ code: 'wrong_machine', field: 'e_machine' });
      expect(err.message).toBe('ELF e_machine 62 (x86-64), expected 247 (BPF)');
    });

    it('refuses ELF32 and big-endian objects', () => {
      const elf32 = Buffer.from(router.buf);
      elf32[4] = 1;
      expect(elfError(() => readBpfObject(elf32))).toMatchObject({ code: 'wrong_class', field: 'e_ident[EI_CLASS]' });
      const be = Buffer.from(router.buf);
      be[5] = 2;
      expect(elfError(() => readBpfObject(be))).toMatchObject({ code: 'wrong_class', field: 'e_ident[EI_DATA]' });
    });

    it('reports truncation when headers point past the end', () => {
      const err = elfError(() => readBpfObject(router.buf.subarray(0, 100)));
      expect(err).toMatchObject({ code: 'truncated', field: 'e_shoff' });
      expect(err.message).toMatch(/but the file has 100 bytes/);
      expect(elfError(() => readBpfObject(router.buf.subarray(0, 40)))).toMatchObject({ code: 'truncated' });
      // Section headers intact, one section's data pointing past the end.
      const shoff = Number(router.buf.readBigUInt64LE(40));
      const shrunk = Buffer.from(router.buf);
      const xdp = readElf(router.buf).section('xdp')!;
      shrunk.writeBigUInt64LE(BigInt(router.buf.length), shoff + xdp.index * 64 + 24);
      expect(elfError(() => readBpfObject(shrunk))).toMatchObject({ code: 'truncated', field: `sections[${xdp.index}].sh_offset` });
    });

    it('reports a bad section string table index', () => {
      const bad = Buffer.from(router.buf);
      bad.writeUInt16LE(999, 62);
      expect(elfError(() => readBpfObject(bad))).toMatchObject({ code: 'bad_section', field: 'e_shstrndx' });
    });

    it('reports an object with only subprograms as having no program', () => {
      const lib = fixtures.compile('lib', NO_PROGRAM_C);
      const err = elfError(() => readBpfObject(lib.buf));
      expect(err.code).toBe('no_program');
      expect(err.message).toMatch(/only subprograms in \.text \(add\)/);
    });
  });
});
