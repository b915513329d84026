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
  uid?: number;
  gid?: number;
  /** Cap on captured stdout/stderr each; the rest is dropped so a chatty child cannot exhaust memory. */
  maxOutputBytes?: number;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  aborted: boolean;
  durationMs: number;
}

const PRLIMIT_CANDIDATES = ['/usr/bin/prlimit', '/bin/prlimit'];
let prlimitPath: string | null | undefined;

function findPrlimit(): string | null {
  if (prlimitPath === undefined) prlimitPath = PRLIMIT_CANDIDATES.find((p) => existsSync(p)) ?? null;
  return prlimitPath;
}

function wrapWithMemoryLimit(cmd: string, args: string[], bytes: number): [string, string[]] {
  const prlimit = findPrlimit();
  if (prlimit) return [prlimit, [`--as=${bytes}`, '--', cmd, ...args]];
  const kb = Math.max(1, Math.floor(bytes / 1024));
  return ['/bin/sh', ['-c', `ulimit -v ${kb} && exec "$0" "$@"`, cmd, ...args]];
}

/**
 * Runs a command in its own process group so a timeout or abort kills everything it started
 * (clang forks cc1), and never throws for a non-zero exit: callers interpret the result.
 */
export function runProcess(cmd: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const started = Date.now();
  const [file, argv] = opts.memoryBytes ? wrapWithMemoryLimit(cmd, args, opts.memoryBytes) : [cmd, args];
  const max = opts.maxOutputBytes ?? 4 * 1024 * 1024;

  return new Promise<RunResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      resolve({ code: null, signal: null, stdout: '', stderr: '', timedOut: false, aborted: true, durationMs: 0 });
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
      if (timedOut || aborted) killGroup();
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
        timedOut,
        aborted,
        durationMs: Date.now() - started,
      });
    });
  });
}
