import { findBpftool } from '../build/clang.toolchain';
import { bpftoolCommand } from '../build/os.sandbox';
import { runProcess, RunResult } from '../build/process.runner';

export const BPFFS_ROOT = '/sys/fs/bpf';

export class KernelError extends Error {
  constructor(
    readonly code: 'bpftool_missing' | 'bpftool_failed' | 'program_not_found' | 'pinning_refused' | 'bad_input' | 'harness_build_failed',
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'KernelError';
  }
}

/**
 * Runs bpftool with a bounded time, in the OS sandbox (only its path arguments are visible);
 * returns the raw result, never throws on a non-zero exit.
 */
export async function bpftool(args: string[], timeoutMs = 60_000): Promise<RunResult> {
  const bin = findBpftool();
  if (!bin) throw new KernelError('bpftool_missing', 'bpftool is not installed (looked in /usr/sbin, /usr/bin, /sbin, /usr/local/sbin)');
  const c = bpftoolCommand(bin, args, BPFFS_ROOT);
  return runProcess(c.file, c.args, { timeoutMs, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, uid: c.uid, gid: c.gid });
}

export async function bpftoolOk(args: string[], timeoutMs?: number): Promise<string> {
  const r = await bpftool(args, timeoutMs);
  if (r.code !== 0) {
    const why = r.timedOut ? 'timed out' : `exit ${r.code}`;
    throw new KernelError('bpftool_failed', `bpftool ${args.join(' ')} failed (${why}): ${cleanStderr(r.stderr).join(' | ')}`);
  }
  return r.stdout;
}

/** Drops bpftool's libbpf-strict-mode banner, which appears on every failure and says nothing. */
export function cleanStderr(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter(
      (l) =>
        l !== '' &&
        !/^Warning: bpftool is now running in libbpf strict mode/.test(l) &&
        !/^If it used to work for this object file/.test(l),
    );
}

/** A tiny XDP program (returns XDP_PASS, no maps, no BTF) used to prove the kernel can load BPF. */
export const PROBE_OBJECT_BASE64 =
  'f0VMRgIBAQAAAAAAAAAAAAEA9wABAAAAAAAAAAAAAAAAAAAAAAAAAOgAAAAAAAAAAAAAAEAAAAAAAEAABwABALcAAAACAAAAlQAAAAAAAABHUEwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAACIAAAASAAMAAAAAAAAAAAAQAAAAAAAAABkAAAARAAQAAAAAAAAAAAAEAAAAAAAAAAIDAC50ZXh0AHhkcAAubGx2bV9hZGRyc2lnAF9saWNlbnNlAGlvcGxhbmVfcHJvYmUALnN0cnRhYgAuc3ltdGFiAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAwAAAAAwAAAAAAAAAAAAAAAAAAAAAAAACiAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAQAAAAEAAAAGAAAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAAAcAAAABAAAABgAAAAAAAAAAAAAAAAAAAEAAAAAAAAAAEAAAAAAAAAAAAAAAAAAAAAgAAAAAAAAAAAAAAAAAAAAaAAAAAQAAAAMAAAAAAAAAAAAAAAAAAABQAAAAAAAAAAQAAAAAAAAAAAAAAAAAAAABAAAAAAAAAAAAAAAAAAAACwAAAANM/28AAACAAAAAAAAAAAAAAAAAoAAAAAAAAAACAAAAAAAAAAAAAAAAAAAAAQAAAAAAAAAAAAAAAAAAADgAAAACAAAAAAAAAAAAAAAAAAAAAAAAAFgAAAAAAAAASAAAAAAAAAABAAAAAQAAAAgAAAAAAAAAGAAAAAAAAAA=';
