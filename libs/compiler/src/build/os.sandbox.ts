import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, statSync } from 'node:fs';
import { dirname, posix } from 'node:path';
import { ResourceLimits, runProcess, RunOptions, RunResult, withLimits } from './process.runner';

/**
 * The OS sandbox every compiler and bpftool run goes through: Debian's bubblewrap (`bwrap`).
 * A text scan of the sources cannot see everything clang reads (lone `\r` line ends, assembler
 * macros, computed includes...), so the guarantee is that the files are not there at all: the
 * tool sees `/usr` read-only, an empty `/tmp`, and the one folder it works on.
 */
export interface SandboxOptions {
  /** The bwrap binary; default /usr/bin/bwrap. Tests point it at a missing file to exercise the refusal. */
  bwrap?: string;
  /**
   * TEST ONLY: run the tools without bwrap (resource limits still apply). The canary test uses it
   * as its control, to show the sandbox, not the text scanner, is what keeps files from leaking.
   */
  unsandboxedForTests?: boolean;
}

/** Where the build folder appears inside the sandbox; diagnostics are mapped back from it. */
export const SANDBOX_BUILD_DIR = '/build';

export type SandboxAvailability = { ok: true } | { ok: false; reason: string };

/**
 * How a tool is confined:
 * - `build` (clang, `bpftool gen object`): a user namespace (`--unshare-all` with no way back),
 *   all capabilities dropped, and when we are root bwrap itself is started as nobody, so even a
 *   sandbox escape is an unprivileged process. The build folder (owned by nobody) is bound rw at
 *   /build; nothing else of the host is visible.
 * - `inspect` (`bpftool btf dump file`): reads one object, needs no kernel privilege. As root it runs
 *   without a user namespace but with every capability dropped: uid 0 without capabilities can
 *   still open the root-owned 0700 temp and cache folders it is given, which nobody could not.
 * - `kernel` (`bpftool prog loadall/run/show`, `map update`): loading BPF needs CAP_BPF in the
 *   initial user namespace (a capability inside a new user namespace does not count for bpf()), so
 *   there is no user namespace: root keeps only CAP_BPF, CAP_PERFMON (the verifier then judges the
 *   program as the agent's real load will) and CAP_NET_ADMIN (XDP is a networking program type).
 *   Only the object, the vector files and the private bpffs pin folder are bound. /proc is a fresh
 *   one for the sandbox's own pid namespace: bpftool reads /proc/self/fd to type pinned objects.
 */
export type SandboxProfile =
  | { kind: 'build'; /** null: an empty tmpfs instead (the availability probe). */ dir: string | null }
  | { kind: 'inspect' | 'kernel'; binds: SandboxBind[] };

export interface SandboxBind {
  /** Host path, bound at the same path inside unless `at` says where. */
  path: string;
  writable: boolean;
  /** Where the path appears inside (a private bpffs folder standing in for /sys/fs/bpf, say). */
  at?: string;
}

const DEFAULT_BWRAP = '/usr/bin/bwrap';
const NOBODY = 65534;
const KERNEL_CAPS = ['CAP_BPF', 'CAP_PERFMON', 'CAP_NET_ADMIN'];
const TMPFS_BYTES = 64 * 1024 * 1024;
// No symbolizer run for the stack dump of a compiler stopped by a cap: it would spend the time the cap ended.
const ENV = [
  '--clearenv',
  '--setenv',
  'PATH',
  '/usr/bin:/usr/sbin:/bin:/sbin',
  '--setenv',
  'TMPDIR',
  '/tmp',
  '--setenv',
  'LC_ALL',
  'C',
  '--setenv',
  'LLVM_DISABLE_SYMBOLIZATION',
  '1',
];

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** /bin, /lib... are symlinks into /usr on merged-/usr systems and real folders elsewhere; the loader needs them either way. */
function rootLinks(): string[] {
  const out: string[] = [];
  for (const name of ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32']) {
    const p = `/${name}`;
    const st = lstatSync(p, { throwIfNoEntry: false });
    if (!st) continue;
    if (st.isSymbolicLink()) out.push('--symlink', readlinkSync(p), p);
    else if (st.isDirectory()) out.push('--ro-bind', p, p);
  }
  return out;
}

const versions = new Map<string, number[]>();

/**
 * bwrap's version as numbers ([0, 8, 0]); [0] when it cannot tell. `--disable-userns` and
 * `--size` came with 0.8 (Debian 12 ships 0.8, Ubuntu 22.04 0.6): an older bwrap still sandboxes,
 * only without those two.
 */
function bwrapVersion(bwrap: string): number[] {
  let v = versions.get(bwrap);
  if (!v) {
    const r = existsSync(bwrap) ? spawnSync(bwrap, ['--version'], { timeout: 5_000, encoding: 'utf8', env: {} }) : null;
    const m = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(r?.stdout ?? '');
    v = m ? [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)] : [0];
    versions.set(bwrap, v);
  }
  return v;
}

function atLeast(v: number[], want: number[]): boolean {
  for (let i = 0; i < want.length; i++) {
    if ((v[i] ?? 0) !== want[i]) return (v[i] ?? 0) > want[i];
  }
  return true;
}

function common(modern: boolean): string[] {
  const args = ['--new-session', '--die-with-parent', '--ro-bind', '/usr', '/usr'];
  // /usr/local holds site configuration (an npmrc with a registry token, say), never a compiler input.
  if (existsSync('/usr/local')) args.push('--tmpfs', '/usr/local');
  args.push(...rootLinks(), ...(modern ? ['--size', String(TMPFS_BYTES)] : []), '--tmpfs', '/tmp', ...ENV);
  return args;
}

function bindArgs(binds: SandboxBind[]): string[] {
  const out: string[] = [];
  for (const b of binds) out.push(b.writable ? '--bind' : '--ro-bind', b.path, b.at ?? b.path);
  return out;
}

/** bwrap's own arguments for a profile (everything before `--`), and the identity to start it as. */
export function bwrapArgs(profile: SandboxProfile, bwrap = DEFAULT_BWRAP): { args: string[]; uid?: number; gid?: number } {
  const modern = atLeast(bwrapVersion(bwrap), [0, 8]);
  // No user namespaces inside: nothing in a build needs one, and each is more kernel surface.
  const noNested = modern ? ['--disable-userns'] : [];
  if (profile.kind === 'build') {
    const args = ['--unshare-all', '--unshare-user', ...noNested, '--cap-drop', 'ALL', ...common(modern)];
    args.push(
      ...(profile.dir === null ? ['--tmpfs', SANDBOX_BUILD_DIR] : ['--bind', profile.dir, SANDBOX_BUILD_DIR]),
      '--chdir',
      SANDBOX_BUILD_DIR,
    );
    return isRoot() ? { args, uid: NOBODY, gid: NOBODY } : { args };
  }
  const namespaces = ['--unshare-ipc', '--unshare-pid', '--unshare-net', '--unshare-uts', '--unshare-cgroup-try'];
  if (profile.kind === 'inspect') {
    const args = isRoot() ? [...namespaces, '--cap-drop', 'ALL'] : ['--unshare-all', '--unshare-user', ...noNested, '--cap-drop', 'ALL'];
    return { args: [...args, ...common(modern), ...bindArgs(profile.binds), '--chdir', '/'] };
  }
  const caps = KERNEL_CAPS.flatMap((c) => ['--cap-add', c]);
  return {
    args: [...namespaces, '--cap-drop', 'ALL', ...caps, ...common(modern), '--proc', '/proc', ...bindArgs(profile.binds), '--chdir', '/'],
  };
}

export interface SandboxedCommand {
  file: string;
  args: string[];
  uid?: number;
  gid?: number;
}

/** The full command line: prlimit (the caps), then bwrap, then the tool. */
export function sandboxedCommand(
  profile: SandboxProfile,
  cmd: string,
  args: string[],
  limits: ResourceLimits,
  opts: SandboxOptions = {},
): SandboxedCommand {
  const b = bwrapArgs(profile, opts.bwrap ?? DEFAULT_BWRAP);
  const [file, argv] = withLimits(opts.bwrap ?? DEFAULT_BWRAP, [...b.args, '--', cmd, ...args], limits);
  return { file, args: argv, uid: b.uid, gid: b.gid };
}

function probeCommand(kind: SandboxProfile['kind'], opts: SandboxOptions): SandboxedCommand {
  // The probe starts bwrap exactly as a real run would, with nothing of the host bound.
  const b = bwrapArgs(kind === 'build' ? { kind, dir: null } : { kind, binds: [] }, opts.bwrap ?? DEFAULT_BWRAP);
  return { file: opts.bwrap ?? DEFAULT_BWRAP, args: [...b.args, '--', '/usr/bin/true'], uid: b.uid, gid: b.gid };
}

function unavailableReason(bwrap: string, kind: SandboxProfile['kind']): string | null {
  if (!existsSync(bwrap)) return `bwrap (bubblewrap) is not installed at ${bwrap}; install the bubblewrap package`;
  if (kind === 'kernel' && !isRoot()) return 'the kernel sandbox keeps CAP_BPF, which bwrap grants only when started as root';
  return null;
}

function describeFailure(r: { code: number | null; stderr: string }): string {
  const why = r.stderr.trim().split('\n').slice(-1)[0] || `exit ${r.code}`;
  return `bwrap cannot create the sandbox here (${why}); user namespaces may be disabled (kernel.unprivileged_userns_clone, user.max_user_namespaces) or blocked by the container`;
}

const probes = new Map<string, Promise<SandboxAvailability>>();

/** Whether bwrap can build this kind of sandbox here; a success is remembered, a failure is probed again next time. */
export function sandboxAvailable(kind: SandboxProfile['kind'], opts: SandboxOptions = {}): Promise<SandboxAvailability> {
  const bwrap = opts.bwrap ?? DEFAULT_BWRAP;
  const key = `${kind}:${bwrap}:${process.getuid?.()}`;
  let p = probes.get(key);
  if (!p) {
    p = (async (): Promise<SandboxAvailability> => {
      const missing = unavailableReason(bwrap, kind);
      if (missing) return { ok: false, reason: missing };
      const c = probeCommand(kind, opts);
      const r = await runProcess(c.file, c.args, { timeoutMs: 10_000, uid: c.uid, gid: c.gid, env: {} }).catch((e: Error) => ({
        code: null,
        stderr: e.message,
      }));
      return r.code === 0 ? { ok: true } : { ok: false, reason: describeFailure(r) };
    })();
    probes.set(key, p);
    void p.then((a) => {
      if (!a.ok) probes.delete(key);
    });
  }
  return p;
}

const FAILED_PROBE_TTL_MS = 60_000;
const syncProbes = new Map<string, { a: SandboxAvailability; at: number }>();

/**
 * sandboxAvailable for synchronous callers (the BTF dump of `analyzeObject`, bpftool runs). A
 * failure is remembered for a minute so a host without bwrap does not pay for a probe per call.
 */
export function sandboxAvailableSync(kind: SandboxProfile['kind'], opts: SandboxOptions = {}): SandboxAvailability {
  const bwrap = opts.bwrap ?? DEFAULT_BWRAP;
  const key = `${kind}:${bwrap}:${process.getuid?.()}`;
  const known = syncProbes.get(key);
  if (known && (known.a.ok || Date.now() - known.at < FAILED_PROBE_TTL_MS)) return known.a;
  const missing = unavailableReason(bwrap, kind);
  let a: SandboxAvailability;
  if (missing) a = { ok: false, reason: missing };
  else {
    const c = probeCommand(kind, opts);
    const r = spawnSync(c.file, c.args, { timeout: 10_000, uid: c.uid, gid: c.gid, env: {}, encoding: 'utf8' });
    a =
      r.status === 0 ? { ok: true } : { ok: false, reason: describeFailure({ code: r.status, stderr: r.stderr ?? String(r.error ?? '') }) };
  }
  syncProbes.set(key, { a, at: Date.now() });
  return a;
}

/** Runs a tool in the sandbox with the kernel-enforced caps; the result is runProcess's. */
export function runSandboxed(
  profile: SandboxProfile,
  cmd: string,
  args: string[],
  opts: Omit<RunOptions, 'uid' | 'gid' | 'cwd' | 'env'> & { sandbox?: SandboxOptions },
): Promise<RunResult> {
  const limits = { memoryBytes: opts.memoryBytes, cpuSeconds: opts.cpuSeconds, fileSizeBytes: opts.fileSizeBytes };
  const run = {
    timeoutMs: opts.timeoutMs,
    signal: opts.signal,
    maxOutputBytes: opts.maxOutputBytes,
    stdoutLimitBytes: opts.stdoutLimitBytes,
  };
  const c = sandboxedCommand(profile, cmd, args, limits, opts.sandbox);
  // bwrap runs the sandbox with --clearenv; its own environment needs nothing either.
  return runProcess(c.file, c.args, { ...run, uid: c.uid, gid: c.gid, env: {} });
}

export type CapName = 'cpuSeconds' | 'fileSizeMb' | 'memoryMb';

const SIGXCPU = 24;
const SIGXFSZ = 25;

/**
 * Which kernel-enforced cap stopped a run, if any. bwrap reports a child killed by signal N as
 * exit 128+N; unsandboxed, the signal comes back directly.
 */
export function capHit(r: Pick<RunResult, 'code' | 'signal' | 'stderr'>): CapName | null {
  if (r.signal === 'SIGXCPU' || r.code === 128 + SIGXCPU) return 'cpuSeconds';
  if (r.signal === 'SIGXFSZ' || r.code === 128 + SIGXFSZ) return 'fileSizeMb';
  // The last two: too little address space to even map clang's shared libraries.
  if (
    /out of memory|bad_alloc|Cannot allocate memory|failed to allocate|failed to map segment|error while loading shared libraries/i.test(
      r.stderr,
    )
  )
    return 'memoryMb';
  return null;
}

/**
 * The binds for a bpftool command line: every absolute path argument is bound at the same path,
 * read-only when it exists (the object, a packet), its folder writable when it does not (an output
 * file such as data_out), and a bpffs path through its top folder below the root (the private pin
 * folder of one load), which must exist. Nothing else of the host is visible.
 */
export function bindsForPaths(args: string[], bpffsRoot: string): SandboxBind[] {
  const binds = new Map<string, boolean>();
  const add = (path: string, writable: boolean): void => {
    binds.set(path, (binds.get(path) ?? false) || writable);
  };
  for (const a of args) {
    if (!a.startsWith('/')) continue;
    const p = posix.normalize(a);
    if (p.startsWith(`${bpffsRoot}/`)) {
      const top = p.slice(bpffsRoot.length + 1).split('/')[0];
      add(`${bpffsRoot}/${top}`, true);
    } else if (existsSync(p)) {
      add(p, statSync(p).isDirectory());
    } else if (existsSync(dirname(p))) {
      add(dirname(p), true);
    }
  }
  // A folder bound after a file inside it would hide the file's bind: bind parents first.
  return [...binds].map(([path, writable]) => ({ path, writable })).sort((a, b) => a.path.length - b.path.length);
}

/** bpftool subcommands that only read a file and never call bpf(). */
function readsFileOnly(args: string[]): boolean {
  return (args[0] === 'btf' && args[1] === 'dump' && args[2] === 'file') || args[0] === 'gen';
}

/**
 * Caps for bpftool. Reading an object (BTF of an upload) gets CPU and memory caps like a compiler.
 * Kernel runs get none of those: BPF_PROG_TEST_RUN's repeats are CPU time charged to bpftool and
 * maps live in kernel memory; their outputs (data_out) are bounded by size all the same.
 */
const BPFTOOL_LIMITS: Record<'inspect' | 'kernel', ResourceLimits> = {
  inspect: { cpuSeconds: 20, memoryBytes: 1024 * 1024 * 1024, fileSizeBytes: 64 * 1024 * 1024 },
  kernel: { fileSizeBytes: 64 * 1024 * 1024 },
};

const warnedTools = new Set<string>();

function warnUnsandboxed(what: string, reason: string): void {
  const line = `ioplane: ${what} runs WITHOUT the OS sandbox: ${reason}`;
  if (warnedTools.has(line)) return;
  warnedTools.add(line);
  process.emitWarning(line, { code: 'IOPLANE_UNSANDBOXED_TOOL' });
}

/**
 * The sandboxed command for one bpftool run on an object (BTF dump, load, test run...): the
 * `inspect` profile when it only reads a file, `kernel` otherwise. Where bwrap cannot run, the
 * plain command, said once in a warning: these objects were built in the sandbox or checked by
 * the ELF reader, and refusing would turn every kernel check off.
 */
export function bpftoolCommand(bin: string, args: string[], bpffsRoot: string, sandbox: SandboxOptions = {}): SandboxedCommand {
  const kind = readsFileOnly(args) ? 'inspect' : 'kernel';
  const a = sandboxAvailableSync(kind, sandbox);
  if (!a.ok) {
    warnUnsandboxed(`bpftool ${args.slice(0, 2).join(' ')}`, a.reason);
    return { file: bin, args };
  }
  return sandboxedCommand({ kind, binds: bindsForPaths(args, bpffsRoot) }, bin, args, BPFTOOL_LIMITS[kind], sandbox);
}
