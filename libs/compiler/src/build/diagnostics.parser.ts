import { Diagnostic } from './build.error';

const LINE = /^(.+?):(\d+):(\d+): (fatal error|error|warning|note): (.*)$/;

/**
 * Parses clang's `file:line:col: severity: message` lines. Paths inside the sandbox are made
 * relative again so diagnostics name the module's files, never a temp folder.
 */
export function parseDiagnostics(stderr: string, sandboxDir: string): Diagnostic[] {
  const out: Diagnostic[] = [];
  const prefix = sandboxDir.endsWith('/') ? sandboxDir : `${sandboxDir}/`;
  for (const raw of stderr.split('\n')) {
    const m = LINE.exec(raw.trimEnd());
    if (!m) continue;
    let file = m[1];
    if (file.startsWith(prefix)) file = file.slice(prefix.length);
    if (file.startsWith('./')) file = file.slice(2);
    out.push({
      file,
      line: Number(m[2]),
      column: Number(m[3]),
      severity: m[4] as Diagnostic['severity'],
      message: m[5].split(sandboxDir).join('.'),
    });
  }
  return out;
}

export function firstError(diags: Diagnostic[]): Diagnostic | undefined {
  return diags.find((d) => d.severity === 'error' || d.severity === 'fatal error');
}
