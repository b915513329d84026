import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { BuildArtifact, publish, readCached } from './artifact.cache';
import { BuildError } from './build.error';
import { findBpftool, loadToolchain, Toolchain } from './clang.toolchain';
import { firstError, parseDiagnostics } from './diagnostics.parser';
import { scanIncludes, scanPreprocessedAsync } from './include.scanner';
import { chownTree, createSandbox, removeSandbox, Sandbox } from './module.sandbox';
import { SDK_BUILD_SUBDIR } from './sdk.headers';
import { capHit, CapName, runSandboxed, SANDBOX_BUILD_DIR, sandboxAvailable, SandboxOptions } from './os.sandbox';
import { runProcess, RunResult } from './process.runner';

export interface BuildInput {
  name: string;
  dir: string;
  /** .c files relative to `dir`; more than one are compiled separately and linked with `bpftool gen object`. */
  sources: string[];
  /**
   * A module shipped with ioplane (modules/): where bwrap cannot run it may still build without the
   * sandbox, said in a log line. Anything else (uploads, a folder named on the command line) is
   * refused with `sandbox_unavailable` instead.
   */
  shipped?: boolean;
}

export interface BuildOptions {
  cacheDir: string;
  /** Wall-clock budget for all compiler and linker runs of this build. Default 30000. */
  timeoutMs?: number;
  /** Address-space limit per compiler process (RLIMIT_AS). Default 1024. */
  memoryMb?: number;
  /** CPU time per compiler process (RLIMIT_CPU). Default 20. */
  cpuSeconds?: number;
  /** Largest file a compiler process may write (RLIMIT_FSIZE). Default 64. */
  fileSizeMb?: number;
  /** Cap on the preprocessor's output, read as a stream; a source that expands past it is refused. Default 16. */
  preprocessedMb?: number;
  signal?: AbortSignal;
  /** clang binary; default `clang` from PATH=/usr/bin:/bin. */
  clang?: string;
  sandbox?: SandboxOptions;
  /** Where a shipped module building without the sandbox is said; default process.emitWarning. */
  log?: (line: string) => void;
}

/** Unprivileged identity for the compiler when we are root and run it without bwrap (nobody). */
const DROP_UID = 65534;
const DROP_GID = 65534;
// v2: sources are compiled as ./<name> inside the sandbox. v3: ioplane's headers join every build.
const DIGEST_DOMAIN = 'ioplane-bpf-build-v3';
// Relative to the build folder, the same in and out of the sandbox; the headers' bytes are in the digest.
const SDK_FLAGS = ['-isystem', `./${SDK_BUILD_SUBDIR}`];
// Not part of the digest: they change what clang does when it fails, never the object it writes.
const RUN_FLAGS = ['-fno-crash-diagnostics'];
const MB = 1024 * 1024;

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

interface Limits {
  timeoutMs: number;
  memoryMb: number;
  cpuSeconds: number;
  fileSizeMb: number;
  preprocessedMb: number;
}

const CAP_WORDS: Record<CapName, (l: Limits) => string> = {
  cpuSeconds: (l) => `the CPU time cap (cpuSeconds=${l.cpuSeconds})`,
  fileSizeMb: (l) => `the output file size cap (fileSizeMb=${l.fileSizeMb})`,
  memoryMb: (l) => `the memory cap (memoryMb=${l.memoryMb})`,
};

function failure(r: RunResult, what: string, toolDir: string, l: Limits): BuildError {
  if (r.timedOut) return new BuildError('timeout', `${what} exceeded the time limit of ${l.timeoutMs} ms`, { field: 'timeoutMs' });
  if (r.aborted) return new BuildError('aborted', `${what} was cancelled`);
  if (r.outputLimited) {
    return new BuildError('resource_limit', `${what} produced more than the preprocessor output cap (preprocessedMb=${l.preprocessedMb})`, {
      field: 'preprocessedMb',
    });
  }
  const cap = capHit(r);
  if (cap) return new BuildError('resource_limit', `${what} was stopped by ${CAP_WORDS[cap](l)}`, { field: cap });
  const diagnostics = parseDiagnostics(r.stderr, toolDir);
  const first = firstError(diagnostics);
  if (first) {
    return new BuildError('compile_error', `${first.file}:${first.line}:${first.column}: ${first.message}`, {
      file: first.file,
      line: first.line,
      diagnostics,
    });
  }
  const tail = r.stderr.split(toolDir).join('.').trim().split('\n').slice(-5).join('\n');
  if (r.signal || (r.code !== null && r.code > 128)) {
    return new BuildError(
      'resource_limit',
      `${what} died (${r.signal ?? `exit ${r.code}`}), likely the memory cap (memoryMb=${l.memoryMb}): ${tail}`,
      { field: 'memoryMb', diagnostics },
    );
  }
  return new BuildError('compile_error', `${what} failed (exit ${r.code}): ${tail}`, { diagnostics });
}

function positive(v: number, field: string): number {
  if (!(v > 0) || !Number.isFinite(v)) throw new BuildError('invalid_source', `${field} must be a positive number`, { field });
  return v;
}

const warned = new Set<string>();

/**
 * Decides how this build's tools run: in the bwrap sandbox, or (a shipped module only, or a test
 * that asks) without it. An upload is never built unsandboxed: it is refused, naming the reason.
 */
async function chooseMode(input: BuildInput, opts: BuildOptions): Promise<'sandbox' | 'direct'> {
  if (opts.sandbox?.unsandboxedForTests) return 'direct';
  const a = await sandboxAvailable('build', opts.sandbox);
  if (a.ok) return 'sandbox';
  if (!input.shipped) {
    throw new BuildError('sandbox_unavailable', `refusing to build ${input.name} without the build sandbox: ${a.reason}`, {
      field: 'sandbox',
    });
  }
  const line = `ioplane: building shipped module ${input.name} WITHOUT the build sandbox (${a.reason}); uploaded sources are refused until bwrap works`;
  if (!warned.has(line)) {
    warned.add(line);
    (opts.log ?? ((l: string) => process.emitWarning(l, { code: 'IOPLANE_UNSANDBOXED_BUILD' })))(line);
  }
  return 'direct';
}

/**
 * Builds a module inside a private copy of its folder: includes are checked before clang runs,
 * then clang (and bpftool for linking) run in the bwrap sandbox, which holds only /usr and that
 * copy, with kernel-enforced caps on CPU time, memory and file size, and the preprocessor's output
 * read as a capped stream. The object lands in a content-addressed cache.
 */
export async function buildModule(input: BuildInput, opts: BuildOptions): Promise<BuildArtifact> {
  const l: Limits = {
    timeoutMs: positive(opts.timeoutMs ?? 30_000, 'timeoutMs'),
    memoryMb: positive(opts.memoryMb ?? 1024, 'memoryMb'),
    cpuSeconds: Math.ceil(positive(opts.cpuSeconds ?? 20, 'cpuSeconds')),
    fileSizeMb: positive(opts.fileSizeMb ?? 64, 'fileSizeMb'),
    preprocessedMb: positive(opts.preprocessedMb ?? 16, 'preprocessedMb'),
  };
  if (!opts.cacheDir) throw new BuildError('invalid_source', 'cacheDir is required', { field: 'cacheDir' });
  if (opts.signal?.aborted) throw new BuildError('aborted', `build of ${input.name} was cancelled`);

  const toolchain = await loadToolchain(opts.clang ?? 'clang');
  const sandbox = await createSandbox(input.dir, input.sources);
  try {
    scanIncludes(sandbox.files, sandbox.skipped);
    const digest = computeDigest(sandbox, toolchain);
    const hit = await readCached(opts.cacheDir, digest);
    if (hit) return hit;

    const mode = await chooseMode(input, opts);
    const drop = process.getuid?.() === 0;
    // The sandbox starts bwrap as nobody when we are root, and without it clang runs as nobody.
    if (drop) await chownTree(sandbox.dir, DROP_UID, DROP_GID);
    const toolDir = mode === 'sandbox' ? SANDBOX_BUILD_DIR : sandbox.dir;
    const deadline = Date.now() + l.timeoutMs;
    const run = async (cmd: string, args: string[], what: string, stdoutCapBytes?: number): Promise<RunResult> => {
      const left = deadline - Date.now();
      if (left <= 0) throw new BuildError('timeout', `${what} exceeded the time limit of ${l.timeoutMs} ms`, { field: 'timeoutMs' });
      const common = {
        timeoutMs: left,
        signal: opts.signal,
        memoryBytes: l.memoryMb * MB,
        cpuSeconds: l.cpuSeconds,
        fileSizeBytes: Math.floor(l.fileSizeMb * MB),
        stdoutLimitBytes: stdoutCapBytes,
        maxOutputBytes: stdoutCapBytes === undefined ? undefined : stdoutCapBytes + 1,
      };
      const r =
        mode === 'sandbox'
          ? await runSandboxed({ kind: 'build', dir: sandbox.dir }, cmd, args, { ...common, sandbox: opts.sandbox })
          : await runProcess(cmd, args, {
              ...common,
              cwd: sandbox.dir,
              env: { PATH: '/usr/bin:/bin', TMPDIR: sandbox.dir, LLVM_DISABLE_SYMBOLIZATION: '1' },
              uid: drop ? DROP_UID : undefined,
              gid: drop ? DROP_GID : undefined,
            });
      if (r.timedOut || r.aborted || r.outputLimited || r.code !== 0) throw failure(r, what, toolDir, l);
      return r;
    };

    const objects: string[] = [];
    for (const [i, src] of sandbox.sources.entries()) {
      const obj = `.ioplane-${i}.o`;
      // clang 14 does not take `--` as the end of its options, so a path that starts with ./ is
      // what keeps a name from being read as a flag.
      const path = `./${src}`;
      const pre = await run(
        toolchain.clang,
        [...toolchain.flags, ...SDK_FLAGS, ...RUN_FLAGS, '-E', '-o', '-', path],
        `preprocessing ${src}`,
        Math.floor(l.preprocessedMb * MB),
      );
      await scanPreprocessedAsync(pre.stdout, src);
      await run(toolchain.clang, [...toolchain.flags, ...SDK_FLAGS, ...RUN_FLAGS, '-c', '-o', obj, path], `compiling ${src}`);
      objects.push(obj);
    }
    let final = objects[0];
    if (objects.length > 1) {
      const bpftool = findBpftool();
      if (!bpftool)
        throw new BuildError('tool_missing', 'linking several sources needs bpftool (gen object), which is not installed', {
          field: 'sources',
        });
      final = '.ioplane-linked.o';
      try {
        await run(bpftool, ['gen', 'object', final, ...objects], 'linking');
      } catch (e) {
        if (e instanceof BuildError && e.code === 'compile_error') {
          throw new BuildError('link_error', e.message.replace(/^linking failed/, 'bpftool gen object failed'), {
            field: 'sources',
            cause: e,
          });
        }
        throw e;
      }
    }
    const bytes = await fsp.readFile(join(sandbox.dir, final));
    return await publish(opts.cacheDir, digest, bytes, {
      clangVersion: toolchain.version,
      flags: [...toolchain.flags, ...SDK_FLAGS],
      sources: sandbox.sources,
    });
  } finally {
    await removeSandbox(sandbox.dir);
  }
}
