export { ElfError } from './elf.error';
export type { ElfErrorCode } from './elf.error';
export { readElf } from './elf.reader';
export { readBpfObject, splitFunctions, codeSections } from './bpf.programs';
export {
  BPF_CLASS,
  BPF_LD_IMM64,
  BPF_CALL,
  BPF_EXIT,
  BPF_MODE_ATOMIC,
  BPF_MODE_MEM,
  BPF_MODE_MEMSX,
  PSEUDO_CALL,
  PSEUDO_KFUNC_CALL,
  decodeInsns,
  accessBytes,
  memMode,
  isJump,
  isConditionalJump,
  jumpTarget,
  atomicOp,
  opcodeMnemonic,
  formatInsn,
} from './bpf.insn';
export type { BpfInsn, InsnClass, AtomicOpName } from './bpf.insn';
export { SHT, SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR, EM_BPF, R_BPF } from './elf.types';
export type { BpfObject, BpfObjectWithCode, BpfFunction, ElfSection, ElfSymbol, ElfRelocation, SymbolType, SymbolBind } from './elf.types';
