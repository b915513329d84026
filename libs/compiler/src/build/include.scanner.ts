import { posix } from 'node:path';
import { BuildError } from './build.error';

/** System headers a BPF program may name with `<...>`; everything else with angle brackets is refused. */
const ANGLE_ALLOWED: RegExp[] = [
  /^linux\/[A-Za-z0-9_\-]+(\/[A-Za-z0-9_\-]+)*\.h$/,
  /^asm\/[A-Za-z0-9_\-]+\.h$/,
  /^bpf\/(bpf_helpers|bpf_endian|bpf_tracing|bpf_core_read)\.h$/,
  /^(stdint|stddef|stdbool)\.h$/,
  // ioplane's own, handed to every build (sdk.headers.ts).
  /^iop_chain\.h$/,
];

export interface ScannedFile {
  /** Path relative to the module folder, posix separators. */
  path: string;
  text: string;
}

interface LogicalLine {
  text: string;
  line: number;
}

/**
 * Translation phase 2: a backslash-newline joins lines, so `#inc\<nl>lude` is still an include.
 * clang ends a line at \r\n, \n and a lone \r alike, so a directive after a lone \r is one too.
 */
function spliceLines(text: string): LogicalLine[] {
  const physical = text.split(/\r\n|\r|\n/);
  const out: LogicalLine[] = [];
  let buf = '';
  let start = 1;
  for (let i = 0; i < physical.length; i++) {
    const l = physical[i];
    if (buf === '') start = i + 1;
    if (l.endsWith('\\')) {
      buf += l.slice(0, -1);
      continue;
    }
    out.push({ text: buf + l, line: start });
    buf = '';
  }
  if (buf !== '') out.push({ text: buf, line: start });
  return out;
}

/**
 * Translation phase 3: comments become a space (block comments keep their newlines so the
 * logical line count is unchanged); string and char literals are kept intact.
 */
function stripComments(text: string): string {
  let out = '';
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i];
    const d = text[i + 1];
    if (c === '/' && d === '*') {
      const end = text.indexOf('*/', i + 2);
      const body = end < 0 ? text.slice(i) : text.slice(i, end + 2);
      out += ' ' + body.replace(/[^\n]/g, '');
      i = end < 0 ? n : end + 2;
    } else if (c === '/' && d === '/') {
      const end = text.indexOf('\n', i);
      out += ' ';
      i = end < 0 ? n : end;
    } else if (c === '"' || c === "'") {
      let j = i + 1;
      while (j < n && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

function refuse(file: string, line: number, message: string): never {
  throw new BuildError('include_refused', `${file}:${line}: ${message}`, { file, line, field: 'sources' });
}

function checkTarget(
  target: string,
  angle: boolean,
  file: string,
  line: number,
  present: ReadonlySet<string>,
  skipped: ReadonlySet<string>,
): void {
  const shown = angle ? `<${target}>` : `"${target}"`;
  if (target === '') refuse(file, line, `empty include ${shown} refused`);
  if (target.startsWith('/')) refuse(file, line, `absolute include path ${shown} refused`);
  if (target.includes('\\')) refuse(file, line, `backslash in include path ${shown} refused`);
  if (target.split('/').some((seg) => seg === '..')) refuse(file, line, `include path ${shown} leaves the module folder`);
  if (angle) {
    if (!ANGLE_ALLOWED.some((re) => re.test(target))) {
      refuse(
        file,
        line,
        `system header ${shown} is not allowed (allowed: linux/*.h, asm/*.h, bpf/{bpf_helpers,bpf_endian,bpf_tracing,bpf_core_read}.h, stdint.h, stddef.h, stdbool.h, iop_chain.h)`,
      );
    }
    return;
  }
  const resolved = posix.normalize(posix.join(posix.dirname(file), target));
  if (resolved.startsWith('../') || resolved === '..') refuse(file, line, `include path ${shown} leaves the module folder`);
  if (skipped.has(resolved)) refuse(file, line, `include ${shown} names a symlink or non-regular file, which is not copied`);
  if (!present.has(resolved)) refuse(file, line, `local include ${shown} does not resolve to a file inside the module folder`);
}

const DIRECTIVE = /^\s*(?:#|%:)\s*([A-Za-z_]\w*)\s*(.*)$/;
const INCLUDE_ARG = /^(?:"([^"\n]*)"|<([^>\n]*)>)\s*$/;
const HAS_INCLUDE = /__has_(?:include_next|include|embed)\b/g;
const HAS_INCLUDE_ARG = /^\s*\(\s*(?:"([^"\n]*)"|<([^>\n]*)>)\s*\)/;

/**
 * Refuses, before any compiler runs, every way a source can make the preprocessor read a
 * file outside the copied module folder or outside the small set of BPF system headers.
 * Computed includes (`#include MACRO`) are refused because their target is unknowable here.
 */
export function scanIncludes(files: ScannedFile[], skipped: ReadonlySet<string> = new Set()): void {
  const present = new Set(files.map((f) => f.path));
  for (const f of files) {
    const lines = spliceLines(f.text);
    const stripped = stripComments(lines.map((l) => l.text).join('\n')).split('\n');
    stripped.forEach((text, idx) => {
      const line = lines[idx]?.line ?? idx + 1;
      if (/include_alias/.test(text)) refuse(f.path, line, 'include_alias pragmas are refused');
      const m = DIRECTIVE.exec(text);
      if (m) {
        const [, name, rest] = m;
        if (name === 'include' || name === 'include_next' || name === 'import' || name === 'embed') {
          const arg = INCLUDE_ARG.exec(rest);
          if (!arg) refuse(f.path, line, `#${name} must name a literal "file" or <file>; computed includes are refused`);
          const angle = arg[2] !== undefined;
          checkTarget(angle ? arg[2] : arg[1], angle, f.path, line, present, skipped);
          if (name === 'import' || name === 'embed') refuse(f.path, line, `#${name} is refused`);
        } else if (name === 'line' && /"/.test(rest)) {
          refuse(f.path, line, '#line with a file name is refused');
        }
      }
      for (const h of text.matchAll(HAS_INCLUDE)) {
        const arg = HAS_INCLUDE_ARG.exec(text.slice((h.index ?? 0) + h[0].length));
        if (!arg) refuse(f.path, line, `${h[0]} must name a literal "file" or <file>`);
        const angle = arg[2] !== undefined;
        checkTarget(angle ? arg[2] : arg[1], angle, f.path, line, present, skipped);
      }
    });
  }
}

const ASM_FILE_DIRECTIVE = /\.\s*(incbin|include)\b/i;

// A preprocessor output near its cap takes seconds to scan, which must not hold the event loop
// (the API answers /healthz meanwhile): the scan yields every few thousand literals, never copies
// the whole text, and never keeps a whole run of joined literals.
const SLICE_TOKENS = 2_000;

function* scanSteps(text: string, sourceName: string): Generator<void, void, void> {
  const token = /'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"/g;
  // Lines are walked forward once: where the current line starts and whether it is a directive
  // (a line marker or pragma: its literals are not code, and it may sit between two halves of
  // one concatenated literal).
  const directiveAt = (i: number): boolean => {
    while (text[i] === ' ' || text[i] === '\t') i++;
    return text[i] === '#';
  };
  let lineStart = 0;
  let lineEnd = text.indexOf('\n');
  let directive = directiveAt(0);
  const nextLine = (): void => {
    lineStart = lineEnd + 1;
    lineEnd = text.indexOf('\n', lineStart);
    directive = directiveAt(lineStart);
  };
  /** Whether only blanks and directive lines lie between `from` and `to`; moves the line walk to `to`. */
  const blankUntil = (from: number, to: number): boolean => {
    let blank = true;
    let at = from;
    for (;;) {
      const stop = lineEnd < 0 || lineEnd >= to ? to : lineEnd;
      if (!directive && blank && !/^\s*$/.test(text.slice(at, stop))) blank = false;
      if (stop === to) return blank;
      nextLine();
      at = lineStart;
    }
  };
  const refuse = (name: string): never => {
    throw new BuildError('asm_refused', `${sourceName}: assembler directive .${name} in a string is refused (it reads files)`, {
      file: sourceName,
      field: 'sources',
    });
  };
  // The end of the current run of joined literals that could still begin a match: its last '.',
  // blanks after it squeezed to one, then at most 7 letters ('include'). Everything before that
  // last '.' can no longer take part in a match, so the run itself is never kept.
  let tail = '';
  const feed = (body: string): void => {
    const joined = tail + body;
    const m = ASM_FILE_DIRECTIVE.exec(joined);
    // A match at the very end may still grow into a longer word (.incbinx): the tail decides later.
    if (m && m.index + m[0].length < joined.length) refuse(m[1]);
    const dot = joined.lastIndexOf('.');
    const t = dot < 0 ? null : /^\.(\s*)([A-Za-z]{0,7})$/.exec(joined.slice(dot));
    tail = t ? `.${t[1] ? ' ' : ''}${t[2]}` : '';
  };
  const endRun = (): void => {
    const m = ASM_FILE_DIRECTIVE.exec(tail);
    if (m) refuse(m[1]);
    tail = '';
  };
  let joinable = false;
  let pos = 0;
  let n = 0;
  for (const m of text.matchAll(token)) {
    if (++n % SLICE_TOKENS === 0) yield;
    const start = m.index ?? 0;
    const blankBefore = blankUntil(pos, start);
    pos = start + m[0].length;
    if (directive) continue;
    if (m[0].startsWith("'")) {
      endRun();
      joinable = false;
      continue;
    }
    if (!(joinable && blankBefore)) endRun();
    feed(decodeEscapes(m[0].slice(1, -1)));
    joinable = true;
  }
  endRun();
}

/**
 * Inline assembly can read files too (`asm(".incbin \"/etc/shadow\"")`), and the string can be
 * assembled by macros, so this looks at the preprocessed text: every run of adjacent string
 * literals is joined the way the compiler joins them, then checked for file-reading directives.
 */
export function scanPreprocessed(preprocessed: string, sourceName: string): void {
  for (const _ of scanSteps(preprocessed, sourceName));
}

/** scanPreprocessed in slices, letting the event loop run between them. */
export async function scanPreprocessedAsync(preprocessed: string, sourceName: string): Promise<void> {
  for (const _ of scanSteps(preprocessed, sourceName)) await new Promise<void>((r) => setImmediate(r));
}

/** Escapes could spell the directive (`"\\x2eincbin"`), so check the bytes the compiler would see. */
function decodeEscapes(s: string): string {
  return s.replace(/\\(x[0-9a-fA-F]+|[0-7]{1,3}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|.)/g, (_all, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16) & 0xff);
    if (e[0] === 'u' || e[0] === 'U') return String.fromCodePoint(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8) & 0xff);
    const simple: Record<string, string> = { n: '\n', t: '\t', r: '\r', v: '\v', f: '\f', a: '\x07', b: '\b' };
    return simple[e] ?? e;
  });
}
