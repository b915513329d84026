import { ElfError } from './elf.error';
import { BpfObject, ElfRelocation, ElfSection, ElfSymbol, EM_BPF, SHT, SymbolBind, SymbolType } from './elf.types';

const MACHINES: Record<number, string> = {
  3: 'x86',
  8: 'MIPS',
  20: 'PowerPC',
  21: 'PowerPC64',
  22: 's390',
  40: 'ARM',
  62: 'x86-64',
  183: 'AArch64',
  243: 'RISC-V',
  247: 'BPF',
};
const EHDR_SIZE = 64;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;
const REL_SIZE = 16;

const SYM_TYPES: SymbolType[] = ['NOTYPE', 'OBJECT', 'FUNC', 'SECTION', 'FILE'];
const SYM_BINDS: SymbolBind[] = ['LOCAL', 'GLOBAL', 'WEAK'];

/** Offsets beyond 2^53 are not real files; treating them as truncation keeps the reader in plain numbers. */
function u64(buf: Buffer, at: number): number {
  const v = buf.readBigUInt64LE(at);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v);
}

function cString(buf: Buffer, at: number): string {
  if (at >= buf.length) return '';
  let end = at;
  while (end < buf.length && buf[end] !== 0) end++;
  return buf.toString('utf8', at, end);
}

function checkHeader(buf: Buffer): void {
  if (buf.length < 4 || buf[0] !== 0x7f || buf[1] !== 0x45 || buf[2] !== 0x4c || buf[3] !== 0x46) {
    const head = buf.subarray(0, 4).toString('hex') || 'empty';
    throw new ElfError('not_elf', `not an ELF file: magic ${head}, expected 7f454c46 ("\\x7fELF")`, 'e_ident[EI_MAG]');
  }
  if (buf.length < EHDR_SIZE) {
    throw new ElfError('truncated', `ELF header truncated: ${buf.length} bytes, the ELF64 header needs ${EHDR_SIZE}`, 'e_ident');
  }
  if (buf[4] !== 2) {
    const cls = buf[4] === 1 ? 'ELF32' : `class ${buf[4]}`;
    throw new ElfError('wrong_class', `ELF ${cls}, expected ELF64 (BPF objects are 64-bit)`, 'e_ident[EI_CLASS]');
  }
  if (buf[5] !== 1) {
    const data = buf[5] === 2 ? 'big-endian' : `data encoding ${buf[5]}`;
    throw new ElfError('wrong_class', `ELF ${data}, expected little-endian (clang -target bpf emits bpfel)`, 'e_ident[EI_DATA]');
  }
  const machine = buf.readUInt16LE(18);
  if (machine !== EM_BPF) {
    const name = MACHINES[machine] ? ` (${MACHINES[machine]})` : '';
    throw new ElfError('wrong_machine', `ELF e_machine ${machine}${name}, expected ${EM_BPF} (BPF)`, 'e_machine');
  }
}

function readSections(buf: Buffer): ElfSection[] {
  const shoff = u64(buf, 40);
  const shentsize = buf.readUInt16LE(58);
  const shnum = buf.readUInt16LE(60);
  const shstrndx = buf.readUInt16LE(62);
  if (shnum === 0) throw new ElfError('bad_section', 'ELF has no section headers', 'e_shnum');
  if (shentsize !== SHDR_SIZE) {
    throw new ElfError('bad_section', `ELF e_shentsize ${shentsize}, expected ${SHDR_SIZE}`, 'e_shentsize');
  }
  const end = shoff + shnum * SHDR_SIZE;
  if (end > buf.length) {
    throw new ElfError(
      'truncated',
      `section header table ends at byte ${end} (e_shoff ${shoff} + ${shnum} x ${SHDR_SIZE}) but the file has ${buf.length} bytes`,
      'e_shoff',
    );
  }
  const raw = Array.from({ length: shnum }, (_, index) => {
    const p = shoff + index * SHDR_SIZE;
    return {
      index,
      nameOffset: buf.readUInt32LE(p),
      type: buf.readUInt32LE(p + 4),
      flags: u64(buf, p + 8),
      offset: u64(buf, p + 24),
      size: u64(buf, p + 32),
      link: buf.readUInt32LE(p + 40),
      info: buf.readUInt32LE(p + 44),
      entsize: u64(buf, p + 56),
    };
  });
  for (const s of raw) {
    if (s.type !== SHT.NOBITS && s.type !== SHT.NULL && s.offset + s.size > buf.length) {
      throw new ElfError(
        'truncated',
        `section ${s.index} data ends at byte ${s.offset + s.size} (offset ${s.offset} + size ${s.size}) but the file has ${buf.length} bytes`,
        `sections[${s.index}].sh_offset`,
      );
    }
  }
  if (shstrndx >= shnum) {
    throw new ElfError('bad_section', `e_shstrndx ${shstrndx} is not a section (there are ${shnum})`, 'e_shstrndx');
  }
  const strtab = raw[shstrndx];
  const names = buf.subarray(strtab.offset, strtab.offset + strtab.size);
  return raw.map(({ nameOffset, ...s }) => ({ ...s, name: cString(names, nameOffset) }));
}

function readSymbols(buf: Buffer, sections: ElfSection[]): ElfSymbol[] {
  const symtab = sections.find((s) => s.type === SHT.SYMTAB);
  if (!symtab) return [];
  const strtab = sections[symtab.link];
  if (!strtab || strtab.type !== SHT.STRTAB) {
    throw new ElfError(
      'bad_section',
      `symbol table ${symtab.name} links to section ${symtab.link}, which is not a string table`,
      `${symtab.name}.sh_link`,
    );
  }
  const names = buf.subarray(strtab.offset, strtab.offset + strtab.size);
  const count = Math.floor(symtab.size / SYM_SIZE);
  return Array.from({ length: count }, (_, index) => {
    const p = symtab.offset + index * SYM_SIZE;
    const info = buf[p + 4];
    const sectionIndex = buf.readUInt16LE(p + 6);
    let name = cString(names, buf.readUInt32LE(p));
    const type = SYM_TYPES[info & 0xf] ?? 'OTHER';
    // Section symbols have no name of their own; borrowing the section's keeps relocation reports readable.
    if (type === 'SECTION' && !name && sections[sectionIndex]) name = sections[sectionIndex].name;
    return {
      index,
      name,
      value: u64(buf, p + 8),
      size: u64(buf, p + 16),
      type,
      bind: SYM_BINDS[info >> 4] ?? 'OTHER',
      sectionIndex,
    };
  });
}

function readRelocations(buf: Buffer, sections: ElfSection[], symbolCount: number): Map<string, ElfRelocation[]> {
  const out = new Map<string, ElfRelocation[]>();
  for (const rel of sections.filter((s) => s.type === SHT.REL)) {
    const target = sections[rel.info];
    if (!target)
      throw new ElfError('bad_section', `relocation section ${rel.name} applies to missing section ${rel.info}`, `${rel.name}.sh_info`);
    const entries: ElfRelocation[] = [];
    for (let p = rel.offset; p + REL_SIZE <= rel.offset + rel.size; p += REL_SIZE) {
      const symbol = buf.readUInt32LE(p + 12);
      if (symbol >= symbolCount) {
        throw new ElfError(
          'bad_section',
          `relocation in ${rel.name} at offset ${u64(buf, p)} names symbol ${symbol}, but the symbol table has ${symbolCount}`,
          `${rel.name}.r_info`,
        );
      }
      entries.push({ offset: u64(buf, p), symbol, type: buf.readUInt32LE(p + 8) });
    }
    out.set(target.name, [...(out.get(target.name) ?? []), ...entries]);
  }
  return out;
}

/** Parse the ELF container of a BPF object: headers, sections, symbols, relocations and license. */
export function readElf(buf: Buffer): BpfObject {
  checkHeader(buf);
  const sections = readSections(buf);
  const symbols = readSymbols(buf, sections);
  const relocations = readRelocations(buf, sections, symbols.length);
  const sectionData = (s: ElfSection) => (s.type === SHT.NOBITS ? Buffer.alloc(0) : buf.subarray(s.offset, s.offset + s.size));
  const licenseSection = sections.find((s) => s.name === 'license');
  return {
    sections,
    symbols,
    relocations,
    license: licenseSection ? cString(sectionData(licenseSection), 0) : null,
    sectionData,
    section: (name) => sections.find((s) => s.name === name),
  };
}
