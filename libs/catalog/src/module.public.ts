import { homedir, tmpdir } from 'node:os';
import { basename, resolve } from 'node:path';
import { SANDBOX_BUILD_DIR } from '@ioplane/compiler';
import type { BuildArtifact } from '@ioplane/compiler';
import { ModuleReport } from './module.report';

/** A report as a viewer gets it: no server paths (the object's place, the toolchain's folders, temp folders). */
export type PublicModuleReport = Omit<ModuleReport, 'artifact'> & { artifact: Omit<BuildArtifact, 'objectPath'> };

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * Folders whose paths say where ioplane keeps its data, temp files and code. System headers under
 * /usr stay: they name what a module includes, not where this server keeps anything.
 */
export function serverPathPrefixes(extra: string[] = []): string[] {
  const all = [tmpdir(), process.cwd(), homedir(), '/tmp', '/var', '/sys/fs/bpf', SANDBOX_BUILD_DIR, ...extra.map((p) => resolve(p))];
  // Longest first, so a nested prefix is replaced whole.
  return [...new Set(all.filter((p) => p && p !== '/'))].sort((a, b) => b.length - a.length);
}

/** Replaces every path under a server folder with `…/<last part>`: enough to tell files apart, nothing of the layout. */
export function scrubServerPaths(text: string, prefixes: string[] = serverPathPrefixes()): string {
  let out = text;
  for (const p of prefixes) {
    const re = new RegExp(`${escape(p)}(?:/[^\\s'"\`(),:;<>\\[\\]{}]*)?(?![\\w.-])`, 'g');
    out = out.replace(re, (m) => `…/${basename(m)}`);
  }
  return out;
}

function scrubDeep(v: unknown, prefixes: string[]): unknown {
  if (typeof v === 'string') return scrubServerPaths(v, prefixes);
  if (Array.isArray(v)) return v.map((x) => scrubDeep(x, prefixes));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrubDeep(x, prefixes)]));
  return v;
}

/** Compiler flags without the folders behind them: `-isystem <system>` says what kind of flag it is. */
export function publicFlags(flags: string[]): string[] {
  return flags.map((f, i) =>
    flags[i - 1] === '-isystem' || flags[i - 1] === '-I' ? '<system>' : f.replace(/^(-isystem|-I)(\/.+)$/, '$1<system>'),
  );
}

export function publicReport(r: ModuleReport, cacheDir?: string): PublicModuleReport {
  const { objectPath: _path, ...artifact } = r.artifact;
  const prefixes = serverPathPrefixes(cacheDir ? [cacheDir] : []);
  return scrubDeep({ ...r, artifact: { ...artifact, flags: publicFlags(artifact.flags) } }, prefixes) as PublicModuleReport;
}
