import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative, sep } from 'node:path';
import { BuildError } from './build.error';
import { ScannedFile } from './include.scanner';
import { readSdkHeaders } from './sdk.headers';

const COPIED_EXT = /\.(c|h)$/;
const MAX_FILES = 512;
const MAX_TOTAL_BYTES = 16 * 1024 * 1024;
const SKIPPED_DIRS = new Set(['node_modules', 'build', 'dist']);

export interface Sandbox {
  dir: string;
  /** Every copied file (relative posix path + text), sorted by path. */
  files: ScannedFile[];
  bytes: Map<string, Buffer>;
  /** Relative paths that exist in the module folder but were not copied (symlinks, devices). */
  skipped: Set<string>;
  sources: string[];
}

function checkRelative(p: string, field: string): string {
  if (typeof p !== 'string' || p === '') throw new BuildError('invalid_source', 'empty source path', { field });
  if (p.startsWith('/') || /^[A-Za-z]:/.test(p))
    throw new BuildError('invalid_source', `source ${p} must be relative to the module folder`, { field, file: p });
  if (p.includes('\\') || p.includes('\0'))
    throw new BuildError('invalid_source', `source ${p} has a forbidden character`, { field, file: p });
  const norm = posix.normalize(p);
  if (norm.split('/').includes('..')) throw new BuildError('invalid_source', `source ${p} leaves the module folder`, { field, file: p });
  // Compilers read a leading '-' as a flag (`-fplugin=x.c`); sources are also passed as ./name.
  if (norm.split('/').some((seg) => seg.startsWith('-')))
    throw new BuildError('invalid_source', `source ${p} has a name starting with '-'`, { field, file: p });
  if (!/\.c$/.test(norm)) throw new BuildError('invalid_source', `source ${p} is not a .c file`, { field, file: p });
  return norm.startsWith('./') ? norm.slice(2) : norm;
}

async function walk(root: string, rel: string, found: string[], skipped: Set<string>): Promise<void> {
  const entries = await fsp.readdir(join(root, rel), { withFileTypes: true });
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isSymbolicLink()) {
      skipped.add(r);
    } else if (e.isDirectory()) {
      if (!SKIPPED_DIRS.has(e.name)) await walk(root, r, found, skipped);
    } else if (e.isFile()) {
      if (COPIED_EXT.test(e.name)) found.push(r);
    } else {
      skipped.add(r);
    }
    if (found.length > MAX_FILES)
      throw new BuildError('invalid_source', `module folder has more than ${MAX_FILES} .c/.h files`, { field: 'dir' });
  }
}

/**
 * Copies the module's .c/.h files (regular files only; symlinks are neither followed nor copied)
 * and ioplane's headers (sdk.headers.ts) into a fresh 0700 temp folder. The caller removes it with `removeSandbox` in a finally.
 */
export async function createSandbox(moduleDir: string, sources: string[]): Promise<Sandbox> {
  if (!Array.isArray(sources) || sources.length === 0)
    throw new BuildError('invalid_source', 'a module needs at least one source', { field: 'sources' });
  const normSources = sources.map((s, i) => checkRelative(s, `sources[${i}]`));
  if (new Set(normSources).size !== normSources.length)
    throw new BuildError('invalid_source', 'the same source is listed twice', { field: 'sources' });

  let root: string;
  try {
    root = await fsp.realpath(moduleDir);
    if (!(await fsp.stat(root)).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw new BuildError('invalid_source', `module folder ${moduleDir} is not readable: ${(e as Error).message}`, {
      field: 'dir',
      cause: e,
    });
  }

  for (const [i, s] of normSources.entries()) {
    const st = await fsp.lstat(join(root, s)).catch(() => null);
    if (!st) throw new BuildError('invalid_source', `source ${s} does not exist`, { field: `sources[${i}]`, file: s });
    if (st.isSymbolicLink())
      throw new BuildError('invalid_source', `source ${s} is a symlink, refused`, { field: `sources[${i}]`, file: s });
    if (!st.isFile()) throw new BuildError('invalid_source', `source ${s} is not a regular file`, { field: `sources[${i}]`, file: s });
    // A parent folder that is a symlink would also lead outside the module.
    const real = await fsp.realpath(join(root, s));
    if (relative(root, real).split(sep).includes('..'))
      throw new BuildError('invalid_source', `source ${s} resolves outside the module folder`, { field: `sources[${i}]`, file: s });
  }

  const found: string[] = [];
  const skipped = new Set<string>();
  await walk(root, '', found, skipped);
  found.sort();
  for (const [i, s] of normSources.entries()) {
    if (!found.includes(s))
      throw new BuildError('invalid_source', `source ${s} is not a regular file inside the module folder`, {
        field: `sources[${i}]`,
        file: s,
      });
  }

  const dir = await fsp.mkdtemp(join(tmpdir(), 'ioplane-build-'));
  try {
    await fsp.chmod(dir, 0o700);
    const bytes = new Map<string, Buffer>();
    const files: ScannedFile[] = [];
    let total = 0;
    for (const r of found) {
      const buf = await fsp.readFile(join(root, r));
      total += buf.length;
      if (total > MAX_TOTAL_BYTES)
        throw new BuildError('invalid_source', `module sources exceed ${MAX_TOTAL_BYTES} bytes`, { field: 'dir' });
      const target = join(dir, r);
      await fsp.mkdir(join(target, '..'), { recursive: true, mode: 0o700 });
      await fsp.writeFile(target, buf, { mode: 0o600, flag: 'wx' });
      bytes.set(r, buf);
      files.push({ path: r, text: buf.toString('utf8') });
    }
    // ioplane's headers go in beside the module's and through the same include scan.
    for (const [r, buf] of await readSdkHeaders()) {
      await fsp.mkdir(join(dir, r, '..'), { recursive: true, mode: 0o700 });
      await fsp.writeFile(join(dir, r), buf, { mode: 0o600, flag: 'wx' });
      bytes.set(r, buf);
      files.push({ path: r, text: buf.toString('utf8') });
    }
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { dir, files, bytes, skipped, sources: normSources };
  } catch (e) {
    await removeSandbox(dir);
    throw e;
  }
}

export async function removeSandbox(dir: string): Promise<void> {
  await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

/** Hands the sandbox to an unprivileged user so clang, when we are root, cannot read root-only files. */
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await fsp.chown(dir, uid, gid);
  const entries = await fsp.readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await chownTree(p, uid, gid);
    else await fsp.chown(p, uid, gid);
  }
}
