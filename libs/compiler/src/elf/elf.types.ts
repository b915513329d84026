/** Section header types we care about (elf.h). */
export const SHT = { NULL: 0, PROGBITS: 1, SYMTAB: 2, STRTAB: 3, RELA: 4, NOBITS: 8, REL: 9 } as const;
export const SHF_WRITE = 0x1;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;

export const EM_BPF = 247;

/** BPF relocation types (llvm/BinaryFormat/ELFRelocs/BPF.def). */
export const R_BPF = {
  NONE: 0,
  R_BPF_64_64: 1,
  R_BPF_64_ABS64: 2,
  R_BPF_64_ABS32: 3,
  R_BPF_64_NODYLD32: 4,
  R_BPF_64_32: 10,
} as const;

export type SymbolType = 'NOTYPE' | 'OBJECT' | 'FUNC' | 'SECTION' | 'FILE' | 'OTHER';
export type SymbolBind = 'LOCAL' | 'GLOBAL' | 'WEAK' | 'OTHER';

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
}

export interface ElfSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  type: SymbolType;
  bind: SymbolBind;
  /** Section header index; 0 = undefined (extern), 0xfff1 = absolute. */
  sectionIndex: number;
}

export interface ElfRelocation {
  /** Byte offset inside the section the relocation applies to. */
  offset: number;
  /** Index into `symbols`. */
  symbol: number;
  type: number;
}

export interface BpfObject {
  sections: ElfSection[];
  symbols: ElfSymbol[];
  /** Keyed by the name of the section the relocations apply to (`xdp` for `.relxdp`). */
  relocations: Map<string, ElfRelocation[]>;
  license: string | null;
  /** Raw bytes of a section (empty for NOBITS such as .bss). */
  sectionData(section: ElfSection): Buffer;
  section(name: string): ElfSection | undefined;
}

/** One function in a code section: an entry program (a SEC() other than .text) or a subprogram (.text). */
export interface BpfFunction {
  name: string;
  section: string;
  sectionIndex: number;
  /** Byte offset and length inside the section. */
  offset: number;
  size: number;
  bind: SymbolBind;
  /** True for entry points (any code section but .text). */
  entry: boolean;
  insns: import('./bpf.insn').BpfInsn[];
}

export interface BpfObjectWithCode extends BpfObject {
  functions: BpfFunction[];
}
