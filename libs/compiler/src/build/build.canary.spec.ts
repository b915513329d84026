import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { buildModule, BuildOptions } from './module.builder';
import { BuildError } from './build.error';

/**
 * A canary file the build could read if it were not sandboxed: world-readable, so even the
 * unsandboxed fallback (which drops to nobody) could open it. Every attack below tries to get its
 * contents into the object or an error, or to learn whether it exists.
 */
const SECRET = randomBytes(16).toString('hex');
const CANARY = `/etc/ioplane-canary-${randomBytes(6).toString('hex')}`;
const ABSENT = `/etc/ioplane-absent-${randomBytes(12).toString('hex')}`;

type Attack = [name: string, source: (path: string) => string];

// Attacks that try to read the file: its contents must appear nowhere.
const READS: Attack[] = [
  [
    '#include hidden by lone \\r line ends, shown by a static assertion',
    (p) => `int a;\r#define P "${p}"\r_Static_assert(0,\r#include P\r);\r`,
  ],
  ['#include hidden by lone \\r line ends, into .rodata', (p) => `int a;\rconst volatile char leak[] =\r#include "${p}"\r;\r`],
  ['form feed before #include', (p) => `\f#include "${p}"\nint x;\n`],
  ['vertical tab before #include', (p) => `\v#include "${p}"\nint x;\n`],
  ['line splice inside the directive', (p) => `#inc\\\nlude "${p}"\nint x;\n`],
  ['trigraph splice', (p) => `#inc??/\nlude "${p}"\nint x;\n`],
  ['%: digraph', (p) => `%:include "${p}"\nint x;\n`],
  ['#import hidden by \\r', (p) => `int a;\r#import "${p}"\r`],
  ['#include_next hidden by \\r', (p) => `int a;\rconst char l[] =\r#include_next "${p}"\r;\r`],
  ['#embed hidden by \\r', (p) => `int a;\rconst char l[] = {\r#embed "${p}"\r};\r`],
  [
    '#include of a path built by stringizing tokens, hidden by \\r',
    (p) => `#define Q(x) #x\n#define P(x) Q(x)\nint a;\rconst char l[] =\r#include P(${p})\r;\r`,
  ],
  ['#include through /proc/self/root, hidden by \\r', (p) => `int a;\rconst char l[] =\r#include "/proc/self/root${p}"\r;\r`],
  [
    '<...> include climbing out of a system folder, hidden by \\r',
    (p) => `int a;\rconst char l[] =\r#include </usr/include/../..${p}>\r;\r`,
  ],
  [
    '#line naming a file beside the canary, then a relative include',
    (p) => `int a;\r#line 1 "/etc/x.c"\rconst char l[] =\r#include "${p.split('/').pop()}"\r;\r`,
  ],
  [
    'top-level asm: .incbin spelled by an assembler macro',
    (p) => `asm(".macro ii n\\n .inc\\\\()\\\\n \\"${p}\\"\\n .endm\\n .section .rodata\\n ii bin\\n");\nint x;\n`,
  ],
  [
    'inline asm in a function: .incbin spelled by an assembler macro',
    (p) => `int f(void) {\n asm volatile(".macro ii n\\n .inc\\\\()\\\\n \\"${p}\\"\\n .endm\\n ii bin\\n");\n return 0;\n}\n`,
  ],
  [
    'asm .include (reads the file as assembly) spelled by a macro',
    (p) => `asm(".macro ii n\\n .inc\\\\()\\\\n \\"${p}\\"\\n .endm\\n ii lude\\n");\nint x;\n`,
  ],
  ['_Pragma wrapping a dependency on the file', (p) => `_Pragma("GCC dependency \\"${p}\\" the contents")\nint x;\n`],
];

// Attacks that only learn whether the file exists: the outcome must not depend on it.
const PROBES: Attack[] = [
  ['#pragma GCC dependency', (p) => `#pragma GCC dependency "${p}"\nint x;\n`],
  ['_Pragma("GCC dependency")', (p) => `_Pragma("GCC dependency \\"${p}\\"")\nint x;\n`],
  [
    '__has_include built by token pasting',
    (p) => `#define CAT(a, b) a##b\n#define HAS CAT(__has_, include)\n#if HAS("${p}")\n#error exists\n#endif\nint x;\n`,
  ],
  [
    '__has_include of a stringized path, hidden by \\r',
    (p) => `#define Q(x) #x\n#define P(x) Q(x)\nint a;\r#if __has_include(P(${p}))\r#error exists\r#endif\r`,
  ],
];

let root: string;
let n = 0;

interface Outcome {
  ok: boolean;
  /** Everything the build hands back: the object's bytes or the error as JSON (what the API shows). */
  visible: string;
  /** The outcome with the path named in it replaced, to compare a probe of the canary with one of a missing file. */
  shape: string;
}

async function attempt(source: string, path: string, opts: Partial<BuildOptions> = {}): Promise<Outcome> {
  const dir = join(root, `m${n++}`);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(join(dir, 'prog.c'), source);
  try {
    const a = await buildModule({ name: 'attack', dir, sources: ['prog.c'] }, { cacheDir: join(dir, 'cache'), timeoutMs: 20_000, ...opts });
    const bytes = await fsp.readFile(a.objectPath);
    return { ok: true, visible: bytes.toString('latin1'), shape: 'built' };
  } catch (e) {
    if (!(e instanceof BuildError)) throw e;
    const json = JSON.stringify(e.toJSON());
    return { ok: false, visible: `${e.message}\n${json}`, shape: `${e.code}:${json.split(path).join('<path>')}` };
  }
}

const UNSANDBOXED: Partial<BuildOptions> = { sandbox: { unsandboxedForTests: true } };

beforeAll(async () => {
  root = await fsp.mkdtemp('/tmp/ioplane-canary-spec-');
  await fsp.writeFile(CANARY, `"${SECRET}"\n`, { mode: 0o644 });
  await fsp.chmod(CANARY, 0o644);
});

afterAll(async () => {
  await fsp.rm(CANARY, { force: true });
  await fsp.rm(root, { recursive: true, force: true });
});

describe('the build sandbox against a planted canary', () => {
  it.each(READS)('read: %s', async (_name, source) => {
    const o = await attempt(source(CANARY), CANARY);
    expect(o.visible).not.toContain(SECRET);
  });

  it.each(PROBES)('existence probe: %s', async (_name, source) => {
    const present = await attempt(source(CANARY), CANARY);
    const absent = await attempt(source(ABSENT), ABSENT);
    expect(present.shape).toBe(absent.shape);
    expect(present.visible).not.toContain(SECRET);
  });

  // The control: the same attacks without the OS sandbox. The text scanner alone lets these
  // through, so without the sandbox the tests above would fail: it is the sandbox that holds.
  describe('control: without the sandbox the same attacks succeed', () => {
    const leaking = [
      'top-level asm: .incbin spelled by an assembler macro',
      'inline asm in a function: .incbin spelled by an assembler macro',
    ];
    it.each(READS.filter(([name]) => leaking.includes(name)))('read leaks: %s', async (_name, source) => {
      const o = await attempt(source(CANARY), CANARY, UNSANDBOXED);
      expect(o.visible).toContain(SECRET);
    });

    // (A stringized __has_include argument is one the scanner refuses by itself.)
    const probing = ['#pragma GCC dependency', '_Pragma("GCC dependency")', '__has_include built by token pasting'];
    it.each(PROBES.filter(([name]) => probing.includes(name)))('existence shows: %s', async (_name, source) => {
      const present = await attempt(source(CANARY), CANARY, UNSANDBOXED);
      const absent = await attempt(source(ABSENT), ABSENT, UNSANDBOXED);
      expect(present.shape).not.toBe(absent.shape);
    });
  });
});
