import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface RunOptions {
  cwd?: string;
  /** Replaces the environment entirely; default is `PATH=/usr/bin:/bin` only. */
  env?: Record<string, string>;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Address-space limit for the child, applied through prlimit (or ulimit -v). */
  memoryBytes?: number;
  /** CPU-time limit (RLIMIT_CPU): SIGXCPU at this many seconds, SIGKILL a second later. */
  cpuSeconds?: number;
  /** Largest file the child may write (RLIMIT_FSIZE): a bigger write gets SIGXFSZ. */
  fileSizeBytes?: number;
  uid?: number;
  gid?: number;
  /** Cap on captured stdout/stderr each; the rest is dropped so a chatty child cannot exhaust memory. */
  maxOutputBytes?: number;
  /** Kill the child as soon as its stdout passes this many bytes (`outputLimited` in the result). */
  stdoutLimitBytes?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
  /** stdout passed `stdoutLimitBytes` and the child was killed. */
  outputLimited: boolean;
  durationMs: number;
}

const PRLIMIT_CANDIDATES = ['/usr/bin/prlimit', '/bin/prlimit'];
let prlimitPath: string | null | undefined;

function findPrlimit(): string | null {
  if (prlimitPath === undefined) prlimitPath = PRLIMIT_CANDIDATES.find((p) => existsSync(p)) ?? null;
  return prlimitPath;
}

export interface ResourceLimits {
  memoryBytes?: number;
  cpuSeconds?: number;
  fileSizeBytes?: number;
}

/**
 * Wraps a command so the kernel enforces the limits whatever the child does. Core dumps are off
 * too: SIGXCPU and SIGXFSZ dump core by default, and a core of a compiler that read hostile input
 * is neither wanted on disk nor in a host-wide crash collector.
 */
export function withLimits(cmd: string, args: string[], l: ResourceLimits): [string, string[]] {
  if (l.memoryBytes === undefined && l.cpuSeconds === undefined && l.fileSizeBytes === undefined) return [cmd, args];
  const prlimit = findPrlimit();
  if (prlimit) {
    const flags = ['--core=0'];
    if (l.memoryBytes !== undefined) flags.push(`--as=${l.memoryBytes}`);
    // The kernel sends SIGXCPU at the soft limit and every second after, SIGKILL at the hard one.
    // LLVM's crash handler takes the first SIGXCPU, unregisters itself and carries on; the second
    // kills with the default action, which names the cap. The hard limit is the backstop.
    if (l.cpuSeconds !== undefined) flags.push(`--cpu=${l.cpuSeconds}:${l.cpuSeconds + 2}`);
    if (l.fileSizeBytes !== undefined) flags.push(`--fsize=${l.fileSizeBytes}`);
    return [prlimit, [...flags, '--', cmd, ...args]];
  }
  const ulimits = ['ulimit -c 0'];
  if (l.memoryBytes !== undefined) ulimits.push(`ulimit -v ${Math.max(1, Math.floor(l.memoryBytes / 1024))}`);
  if (l.cpuSeconds !== undefined) ulimits.push(`ulimit -t ${l.cpuSeconds}`);
  // POSIX sh counts -f in 512-byte blocks.
  if (l.fileSizeBytes !== undefined) ulimits.push(`ulimit -f ${Math.max(1, Math.floor(l.fileSizeBytes / 512))}`);
  return ['/bin/sh', ['-c', `${ulimits.join(' && ')} && exec "$0" "$@"`, cmd, ...args]];
}

/**
 * Runs a command in its own process group so a timeout or abort kills everything it started
 * (clang forks cc1), and never throws for a non-zero exit: callers interpret the result.
 */
export function runProcess(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const [file, argv] = withLimits(cmd, args, opts);
  const max = opts.maxOutputBytes ?? 4 * 1024 * 1024;

  return new Promise<RunResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      resolve({ code: null, signal: null, stdout: '', stderr: '', timedOut: false, aborted: true, outputLimited: false, durationMs: 0 });
      return;
    }
    const child = spawn(file, argv, {
      cwd: opts.cwd,
      env: opts.env ?? { PATH: '/usr/bin:/bin' },
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      uid: opts.uid,
      gid: opts.gid,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    let timedOut = false;
    let aborted = false;
    let outputLimited = false;

    const killGroup = (): void => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // group already gone
      }
    };
    const timer = opts.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          killGroup();
        }, opts.timeoutMs)
      : undefined;
    timer?.unref();
    const onAbort = (): void => {
      aborted = true;
      killGroup();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout.on('data', (b: Buffer) => {
      if (outLen < max) out.push(b);
      outLen += b.length;
      if (opts.stdoutLimitBytes !== undefined && outLen > opts.stdoutLimitBytes && !outputLimited) {
        outputLimited = true;
        killGroup();
      }
    });
    child.stderr.on('data', (b: Buffer) => {
      if (errLen < max) err.push(b);
      errLen += b.length;
    });
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      // cc1 may outlive the driver when only the driver was signalled; make sure the group is gone.
      if (timedOut || aborted || outputLimited) killGroup();
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        aborted,
        outputLimited,
        durationMs: Date.now() - started,
      });
    });
  });
}
