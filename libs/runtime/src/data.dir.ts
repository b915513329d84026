import { chmodSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { join, parse, resolve } from 'node:path';

export type DataDirErrorCode = 'shared_dir' | 'not_a_dir' | 'not_private';

/** A data or keys folder ioplane cannot make private; `field` is the variable that names it. */
export class DataDirError extends Error {
  override readonly name = 'DataDirError';
  constructor(
    readonly code: DataDirErrorCode,
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

/**
 * Creates `dir` (and missing parents) mode 0700, or narrows an existing one that others could
 * read. A folder meant to be shared (the root, a sticky-bit folder such as /tmp) is refused
 * rather than taken over: narrowing it would break everyone else who uses it.
 */
export function ensurePrivateDir(dir: string, field = 'IOPLANE_DATA_DIR'): void {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true, mode: 0o700 });
  const st = statSync(abs);
  if (!st.isDirectory()) throw new DataDirError('not_a_dir', `${field}: ${abs} is not a folder`, field);
  if ((st.mode & 0o077) === 0) return;
  if (abs === parse(abs).root || (st.mode & 0o1000) !== 0) {
    throw new DataDirError('shared_dir', `${field}: ${abs} is a shared folder; give ioplane a folder of its own`, field);
  }
  try {
    chmodSync(abs, st.mode & 0o7700);
  } catch (e) {
    throw new DataDirError(
      'not_private',
      `${field}: ${abs} is readable by others and cannot be narrowed to 0700 (${(e as NodeJS.ErrnoException).code}); run as its owner or chmod 700 it`,
      field,
    );
  }
}

/** Public halves may stay readable; everything else in the keys folder is a secret. */
const PUBLIC_FILE = /\.pub$/;

/**
 * The data folder (embedded Redis's AOF, artifacts, keys) 0700 and every secret in the keys
 * folder 0600, tightening what an older version or a careless copy left wider.
 */
export function secureDataDir(cfg: { IOPLANE_DATA_DIR: string; IOPLANE_KEYS_DIR?: string }): { dataDir: string; keysDir: string } {
  const dataDir = resolve(cfg.IOPLANE_DATA_DIR);
  const keysDir = resolve(cfg.IOPLANE_KEYS_DIR ?? join(cfg.IOPLANE_DATA_DIR, 'keys'));
  ensurePrivateDir(dataDir, 'IOPLANE_DATA_DIR');
  ensurePrivateDir(keysDir, cfg.IOPLANE_KEYS_DIR ? 'IOPLANE_KEYS_DIR' : 'IOPLANE_DATA_DIR');
  for (const name of readdirSync(keysDir)) {
    if (PUBLIC_FILE.test(name)) continue;
    const path = join(keysDir, name);
    const st = statSync(path);
    if (st.isFile() && (st.mode & 0o077) !== 0) chmodSync(path, 0o600);
  }
  return { dataDir, keysDir };
}
