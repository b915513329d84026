import { scanPreprocessed, scanPreprocessedAsync } from './include.scanner';
import { BuildError } from './build.error';

// Preprocessed text as clang -E writes it: adjacent literals are one string to the assembler, line
// markers may sit between them, and only the joined bytes (escapes decoded) tell what it reads.
const CASES: Array<[string, boolean]> = [
  ['asm(".incbin \\"/etc/passwd\\"");', true],
  ['asm(".inc" "bin");', true],
  ['asm(".inc"\n# 3 "x.c"\n"bin \\"/x\\"");', true],
  ['x = ".inc"\n   \n  # 7 "y.h" 2\n  "bin";', true],
  ['asm("\\x2einc" "lude");', true],
  ['asm("\\056incbin");', true],
  ['a(".in" "c" "b" "in");', true],
  ['a("." " " "   " "INCBIN");', true],
  ['a("a.b.inc" "bin \\"f\\"");', true],
  ['a(". include ");', true],
  ['a(".incbin" "");', true],
  ['char c = \'"\'; asm(".incbin x");', true],
  ['asm(".inc" ; "bin");', false],
  ['asm(".inc" \'x\' "bin");', false],
  ['# 1 ".incbin"\nint x;', false],
  ['a(".incbin" "x");', false],
  ['a(".includex");', false],
  ['a(".incbin_x");', false],
  ['const char *s = "include the .h file";', false],
];

function refused(text: string): boolean {
  try {
    scanPreprocessed(text, 'x.c');
    return false;
  } catch (e) {
    expect(e).toBeInstanceOf(BuildError);
    expect((e as BuildError).code).toBe('asm_refused');
    return true;
  }
}

describe('scanPreprocessed', () => {
  it.each(CASES)('%j refused: %s', (text, expected) => {
    expect(refused(text)).toBe(expected);
  });

  it('scans a large output in slices, letting the event loop run, with the same verdict', async () => {
    const lit = '"\\x30\\x31\\x32\\x33\\x34\\x35"';
    const big = `# 1 "x.c"\nconst char *s[] = { ${Array(100_000).fill(lit).join(' ')} };\nasm(".inc" "bin \\"/etc/hostname\\"");\n`;
    let ticks = 0;
    const tick = setInterval(() => ticks++, 0);
    try {
      await expect(scanPreprocessedAsync(big, 'x.c')).rejects.toMatchObject({ code: 'asm_refused' });
    } finally {
      clearInterval(tick);
    }
    expect(ticks).toBeGreaterThan(0);
    await expect(scanPreprocessedAsync(big.replace('.inc', 'inc'), 'x.c')).resolves.toBeUndefined();
  });
});
