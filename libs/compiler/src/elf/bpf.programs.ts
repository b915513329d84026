import { decodeInsns } from './bpf.insn';
import { ElfError } from './elf.error';
import { readElf } from './elf.reader';
import { BpfFunction, BpfObject, BpfObjectWithCode, SHF_EXECINSTR, SHT } from './elf.types';

export function codeSections(obj: BpfObject) {
  return obj.sections.filter((s) => s.type === SHT.PROGBITS && (s.flags & SHF_EXECINSTR) !== 0 && s.size > 0);
}

/** Split every code section into functions by its FUNC symbols (st_value, st_size). */
export function splitFunctions(obj: BpfObject): BpfFunction[] {
  const out: BpfFunction[] = [];
  for (const section of codeSections(obj)) {
    if (section.size % 8 !== 0) {
      throw new ElfError(
        'bad_section',
        `code section ${section.name} is ${section.size} bytes, not a multiple of 8`,
        `${section.name}.sh_size`,
      );
    }
    const code = obj.sectionData(section);
    const funcs = obj.symbols.filter((s) => s.type === 'FUNC' && s.sectionIndex === section.index).sort((a, b) => a.value - b.value);
    // Objects without symbols still carry code: treat the whole section as one function.
    const spans = funcs.length
      ? funcs.map((f, i) => ({
          name: f.name,
          bind: f.bind,
          offset: f.value,
          size: f.size || (funcs[i + 1]?.value ?? section.size) - f.value,
        }))
      : [{ name: section.name, bind: 'GLOBAL' as const, offset: 0, size: section.size }];
    for (const span of spans) {
      if (span.offset % 8 !== 0 || span.size % 8 !== 0 || span.offset + span.size > section.size) {
        throw new ElfError(
          'bad_section',
          `function ${span.name} spans bytes ${span.offset}..${span.offset + span.size} of ${section.name} (${section.size} bytes), not whole instructions inside the section`,
          `symbols.${span.name}`,
        );
      }
      out.push({
        ...span,
        section: section.name,
        sectionIndex: section.index,
        entry: section.name !== '.text',
        insns: decodeInsns(code.subarray(span.offset, span.offset + span.size), span.offset / 8),
      });
    }
  }
  return out;
}

/** Read a clang -target bpf object: ELF structure plus its decoded functions. */
export function readBpfObject(buf: Buffer): BpfObjectWithCode {
  const obj = readElf(buf);
  const functions = splitFunctions(obj);
  if (!functions.some((f) => f.entry)) {
    const what = functions.length ? `only subprograms in .text (${functions.map((f) => f.name).join(', ')})` : 'no code sections';
    throw new ElfError(
      'no_program',
      `BPF object has no program: ${what}; programs live in SEC("xdp"), SEC("tc") and similar sections`,
      'sections',
    );
  }
  return { ...obj, functions };
}
