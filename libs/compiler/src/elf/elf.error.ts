export type ElfErrorCode = 'not_elf' | 'wrong_class' | 'wrong_machine' | 'truncated' | 'bad_section' | 'no_program';

/** An object file that cannot be read as a BPF ELF; `field` names the header field or section at fault. */
export class ElfError extends Error {
  override readonly name = 'ElfError';

  constructor(
    readonly code: ElfErrorCode,
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}
