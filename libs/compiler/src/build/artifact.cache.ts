import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, statSync, unlinkSync, writeFileSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { BuildError } from './build.error';

export interface BuildArtifact {
  /** sha256 hex over the module's source bytes (sorted by path), the flags and the clang version. */
  digest: string;
  /** `<cacheDir>/<digest>.o` */
  objectPath: string;
  /** True when the object came from the cache and no compiler ran. */
  cached: boolean;
  clangVersion: string;
  flags: string[];
  sources: string[];
  sizeBytes: number;
}

interface Sidecar {
  digest: string;
  clangVersion: string;
  flags: string[];
  sources: string[];
  sizeBytes: number;
  createdAt: string;
}

export const IMPORTED_CLANG_VERSION = 'imported';

function paths(cacheDir: string, digest: string): { obj: string; meta: string } {
  if (!/^[0-9a-f]{64}$/.test(digest)) throw new BuildError('invalid_object', `bad digest ${digest}`);
  return { obj: join(cacheDir, `${digest}.o`), meta: join(cacheDir, `${digest}.json`) };
}

function tmpName(target: string): string {
  return `${target}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/** Returns the cached artifact when both the object and its sidecar are complete, else null. */
export async function readCached(cacheDir: string, digest: string): Promise<BuildArtifact | null> {
  const p = paths(cacheDir, digest);
  try {
    const meta = JSON.parse(await fsp.readFile(p.meta, 'utf8')) as Sidecar;
    const st = await fsp.stat(p.obj);
    if (meta.digest !== digest || st.size !== meta.sizeBytes) return null;
    return {
      digest,
      objectPath: p.obj,
      cached: true,
      clangVersion: meta.clangVersion,
      flags: meta.flags,
      sources: meta.sources,
      sizeBytes: st.size,
    };
  } catch {
    return null;
  }
}

/**
 * Publishes an object atomically: write to a unique temp name, rename over the final name.
 * The sidecar is renamed last, so a reader that finds the sidecar always finds a whole object;
 * two workers publishing the same digest write identical bytes, so the last rename wins harmlessly.
 */
export async function publish(
  cacheDir: string,
  digest: string,
  objectBytes: Buffer,
  meta: Omit<Sidecar, 'digest' | 'sizeBytes' | 'createdAt'>,
): Promise<BuildArtifact> {
  await fsp.mkdir(cacheDir, { recursive: true });
  const p = paths(cacheDir, digest);
  const sidecar: Sidecar = { digest, sizeBytes: objectBytes.length, createdAt: new Date().toISOString(), ...meta };
  const tObj = tmpName(p.obj);
  const tMeta = tmpName(p.meta);
  try {
    await fsp.writeFile(tObj, objectBytes, { mode: 0o644 });
    await fsp.rename(tObj, p.obj);
    await fsp.writeFile(tMeta, JSON.stringify(sidecar, null, 2), { mode: 0o644 });
    await fsp.rename(tMeta, p.meta);
  } finally {
    await fsp.rm(tObj, { force: true });
    await fsp.rm(tMeta, { force: true });
  }
  return {
    digest,
    objectPath: p.obj,
    cached: false,
    clangVersion: meta.clangVersion,
    flags: meta.flags,
    sources: meta.sources,
    sizeBytes: objectBytes.length,
  };
}

/**
 * Copies an artifact built or imported into another cache (an upload's private staging cache)
 * into this one, atomically; its report can then name the object where it stays.
 */
export async function adoptArtifact(a: BuildArtifact, cacheDir: string): Promise<BuildArtifact> {
  const bytes = await fsp.readFile(a.objectPath);
  const published = await publish(cacheDir, a.digest, bytes, { clangVersion: a.clangVersion, flags: a.flags, sources: a.sources });
  return { ...published, cached: a.cached };
}

/**
 * Stores a user-supplied BPF object under its own sha256. Only the ELF magic is checked here;
 * the ELF reader validates the rest.
 */
export function importObject(buf: Buffer, opts: { cacheDir: string }): BuildArtifact {
  if (!Buffer.isBuffer(buf) || buf.length < 4 || buf[0] !== 0x7f || buf[1] !== 0x45 || buf[2] !== 0x4c || buf[3] !== 0x46) {
    throw new BuildError('invalid_object', 'not an ELF object (missing \\x7fELF magic)', { field: 'object' });
  }
  const digest = createHash('sha256').update(buf).digest('hex');
  mkdirSync(opts.cacheDir, { recursive: true });
  const p = paths(opts.cacheDir, digest);
  const base = {
    digest,
    objectPath: p.obj,
    clangVersion: IMPORTED_CLANG_VERSION,
    flags: [] as string[],
    sources: [] as string[],
    sizeBytes: buf.length,
  };
  if (existsSync(p.meta) && existsSync(p.obj) && statSync(p.obj).size === buf.length) return { ...base, cached: true };
  const sidecar: Sidecar = {
    digest,
    clangVersion: IMPORTED_CLANG_VERSION,
    flags: [],
    sources: [],
    sizeBytes: buf.length,
    createdAt: new Date().toISOString(),
  };
  for (const [target, data] of [
    [p.obj, buf],
    [p.meta, Buffer.from(JSON.stringify(sidecar, null, 2))],
  ] as const) {
    const t = tmpName(target);
    try {
      writeFileSync(t, data, { mode: 0o644 });
      renameSync(t, target);
    } finally {
      if (existsSync(t)) unlinkSync(t);
    }
  }
  return { ...base, cached: false };
}
