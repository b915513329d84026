import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { BuildArtifact, publish, readCached } from './artifact.cache';
import { BuildError } from './build.error';
import { findBpftool, loadToolchain, Toolchain } from './clang.toolchain';
import { firstError, parseDiagnostics } from './diagnostics.parser';
import { scanIncludes, scanPreprocessed } from './include.scanner';
import { chownTree, createSandbox, removeSandbox, Sandbox } from './module.sandbox';
import { runProcess, RunResult } from './process.runner';

export interface BuildInput {
  name: string;
  dir: string;
  /** .c files relative to `dir`; more than one are compiled separately and linked with `bpftool gen object`. */
  sources: string[];
}

export interface BuildOptions {
  cacheDir: string;
  /** Wall-clock budget for all compiler and linker runs of this build. Default 30000. */
  timeoutMs?: number;
  /** Address-space limit per compiler process. Default 1024. */
  memoryMb?: number;
  signal?: AbortSignal;
  /** clang binary; default `clang` from PATH=/usr/bin:/bin. */
  clang?: string;
}

/** Unprivileged identity for the compiler when we run as root (nobody). */
const DROP_UID = 65534;
const DROP_GID = 65534;
const DIGEST_DOMAIN = 'ioplane-bpf-build-v1';

export function computeDigest(sandbox: Pick<Sandbox, 'bytes' | 'sources'>, toolchain: Pick<Toolchain, 'version' | 'flags'>): string {
  const h = createHash('sha256');
  const field = (s: string | Buffer): void => {
    const b = typeof s === 'string' ? Buffer.from(s) : s;
    h.update(`${b.length}:`);
    h.update(b);
  };
  field(DIGEST_DOMAIN);
  field(toolchain.version);
  field(toolchain.flags.join('\0'));
  // Order of compiled sources matters for linking, so it is hashed as given.
  field(sandbox.sources.join('\0'));
  for (const path of [...sandbox.bytes.keys()].sort()) {
    field(path);
    field(sandbox.bytes.get(path)!);
  }
  return h.digest('hex');
}

function failure(r: RunResult, what: string, sandboxDir: string, timeoutMs: number): BuildError {
  if (r.timedOut) return new BuildError('timeout', `${what} exceeded the time limit of ${timeoutMs} ms`, { field: 'timeoutMs' });
  if (r.aborted) return new BuildError('aborted', `${what} was cancelled`);
  const diagnostics = parseDiagnostics(r.stderr, sandboxDir);
  const first = firstError(diagnostics);
  if (first) {
    return new BuildError('compile_error', `${first.file}:${first.line}:${first.column}: ${first.message}`, {
      file: first.file,
      line: first.line,
      diagnostics,
    });
  }
  const tail = r.stderr.split(sandboxDir).join('.').trim().split('\n').slice(-5).join('\n');
  if (r.signal || /out of memory|bad_alloc|Cannot allocate memory/i.test(r.stderr)) {
    return new BuildError('resource_limit', `${what} died (${r.signal ?? `exit ${r.code}`}), likely the memory limit: ${tail}`, { field: 'memoryMb', diagnostics });
  }
  return new BuildError('compile_error', `${what} failed (exit ${r.code}): ${tail}`, { diagnostics });
}

/**
 * Builds a module inside a private copy of its folder: includes are checked before clang runs,
 * clang runs with an empty environment, a time and a memory limit (and as `nobody` when we are
 * root), and the object lands in a content-addressed cache.
 */
export async function buildModule(input: BuildInput, opts: BuildOptions): Promise<BuildArtifact> {
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const memoryMb = opts.memoryMb ?? 1024;
  if (!(timeoutMs > 0)) throw new BuildError('invalid_source', 'timeoutMs must be positive', { field: 'timeoutMs' });
  if (!(memoryMb > 0)) throw new BuildError('invalid_source', 'memoryMb must be positive', { field: 'memoryMb' });
  if (!opts.cacheDir) throw new BuildError('invalid_source', 'cacheDir is required', { field: 'cacheDir' });
  if (opts.signal?.aborted) throw new BuildError('aborted', `build of ${input.name} was cancelled`);

  const toolchain = await loadToolchain(opts.clang ?? 'clang');
  const sandbox = await createSandbox(input.dir, input.sources);
  try {
    scanIncludes(sandbox.files, sandbox.skipped);
    const digest = computeDigest(sandbox, toolchain);
    const hit = await readCached(opts.cacheDir, digest);
    if (hit) return hit;

    const drop = process.getuid?.() === 0;
    if (drop) await chownTree(sandbox.dir, DROP_UID, DROP_GID);
    const deadline = Date.now() + timeoutMs;
    const run = async (cmd: string, args: string[], what: string): Promise<void> => {
      const left = deadline - Date.now();
      if (left <= 0) throw new BuildError('timeout', `${what} exceeded the time limit of ${timeoutMs} ms`, { field: 'timeoutMs' });
      const r = await runProcess(cmd, args, {
        cwd: sandbox.dir,
        env: { PATH: '/usr/bin:/bin' },
        timeoutMs: left,
        signal: opts.signal,
        memoryBytes: memoryMb * 1024 * 1024,
        uid: drop ? DROP_UID : undefined,
        gid: drop ? DROP_GID : undefined,
      });
      if (r.timedOut || r.aborted || r.code !== 0) throw failure(r, what, sandbox.dir, timeoutMs);
    };

    const objects: string[] = [];
    for (const [i, src] of sandbox.sources.entries()) {
      const pre = `.ioplane-${i}.i`;
      const obj = `.ioplane-${i}.o`;
      await run(toolchain.clang, [...toolchain.flags, '-E', src, '-o', pre], `preprocessing ${src}`);
      scanPreprocessed(await fsp.readFile(join(sandbox.dir, pre), 'utf8'), src);
      await run(toolchain.clang, [...toolchain.flags, '-c', src, '-o', obj], `compiling ${src}`);
      objects.push(obj);
    }
    let final = objects[0];
    if (objects.length > 1) {
      const bpftool = findBpftool();
      if (!bpftool) throw new BuildError('tool_missing', 'linking several sources needs bpftool (gen object), which is not installed', { field: 'sources' });
      final = '.ioplane-linked.o';
      try {
        await run(bpftool, ['gen', 'object', final, ...objects], 'linking');
      } catch (e) {
        if (e instanceof BuildError && e.code === 'compile_error') {
          throw new BuildError('link_error', e.message.replace(/^linking failed/, 'bpftool gen object failed'), { field: 'sources', cause: e });
        }
        throw e;
      }
    }
    const bytes = await fsp.readFile(join(sandbox.dir, final));
    return await publish(opts.cacheDir, digest, bytes, {
      clangVersion: toolchain.version,
      flags: toolchain.flags,
      sources: sandbox.sources,
    });
  } finally {
    await removeSandbox(sandbox.dir);
  }
}
