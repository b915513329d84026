import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { BuildError } from '../build/build.error';

export interface PrivateTmpdir {
  /** A folder of the test's own under /tmp, readable by all. */
  root: string;
  /** `root/tmp`, now TMPDIR: every temp folder a build makes lands here, so a test sees that each is removed. */
  tmp: string;
  /** Puts TMPDIR back as it was and removes `root`. */
  restore(): Promise<void>;
}

/**
 * For specs of sandboxed builds: a private TMPDIR under a root of the spec's own. The compiler runs
 * as nobody when the tests run as root, so the root is 0755 and the TMPDIR 0711 (reachable, not
 * listable). Call it in beforeAll and restore() in afterAll.
 */
export async function privateTmpdir(prefix: string): Promise<PrivateTmpdir> {
  const saved = process.env.TMPDIR;
  const root = await fsp.mkdtemp(join('/tmp', prefix));
  await fsp.chmod(root, 0o755);
  const tmp = join(root, 'tmp');
  await fsp.mkdir(tmp, { mode: 0o711 });
  await fsp.chmod(tmp, 0o711);
  process.env.TMPDIR = tmp;
  return {
    root,
    tmp,
    async restore() {
      process.env.TMPDIR = saved;
      if (saved === undefined) delete process.env.TMPDIR;
      await fsp.rm(root, { recursive: true, force: true });
    },
  };
}

/** Writes a module's `files` (path relative to `dir`: text) into `dir`, making folders as needed; returns `dir`. */
export async function writeModuleDir(dir: string, files: Record<string, string>): Promise<string> {
  for (const [rel, text] of Object.entries(files)) {
    await fsp.mkdir(join(dir, rel, '..'), { recursive: true });
    await fsp.writeFile(join(dir, rel), text);
  }
  return dir;
}

/** The BuildError a build fails with; the test fails if it succeeds or fails otherwise. */
export async function buildError(p: Promise<unknown>): Promise<BuildError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(BuildError);
    return e as BuildError;
  }
  throw new Error('expected the build to fail');
}
