import { createHash } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runProcess } from '@ioplane/compiler';
import { DeviceError } from '../device.error';

const SOURCE = join(__dirname, 'iop-xdpctl.c');
// libs/devices/src/kernel -> repo root; the binary is built once per source version. The packaged
// agent's install folder is read-only: it names a writable cache instead.
const CACHE_DIR = process.env.IOPLANE_XDPCTL_CACHE ?? resolve(__dirname, '..', '..', '..', '..', 'var', 'cache', 'devices');
const CC = ['/usr/bin/cc', '/usr/bin/gcc', '/usr/bin/clang'];

let built: Promise<string> | undefined;

async function build(): Promise<string> {
  const source = readFileSync(SOURCE);
  const bin = join(CACHE_DIR, `iop-xdpctl-${createHash('sha256').update(source).digest('hex').slice(0, 16)}`);
  if (existsSync(bin)) return bin;
  const cc = CC.find((p) => existsSync(p));
  if (!cc) throw new DeviceError('kernel_failed', 'no C compiler (cc/gcc/clang) to build iop-xdpctl');
  await fsp.mkdir(CACHE_DIR, { recursive: true, mode: 0o700 });
  const tmp = `${bin}.tmp-${process.pid}`;
  const r = await runProcess(cc, ['-O2', '-o', tmp, SOURCE, '-lbpf', '-lelf', '-lz'], { timeoutMs: 60_000 });
  if (r.code !== 0) {
    await fsp.rm(tmp, { force: true });
    throw new DeviceError(
      'kernel_failed',
      `building iop-xdpctl failed (libbpf-dev installed?): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
    );
  }
  await fsp.rename(tmp, bin);
  return bin;
}

/** Path of the helper binary, compiled from iop-xdpctl.c against libbpf on first use. */
export function ensureXdpctl(): Promise<string> {
  built ??= build().catch((e) => {
    built = undefined;
    throw e;
  });
  return built;
}

export interface XdpctlFailure {
  error: string;
  detail: string;
  errno: number;
  stderr: string;
}

/** Runs the helper; returns its JSON line, or the failure it reported (never throws on exit 2). */
export async function xdpctl<T>(
  args: string[],
  timeoutMs = 60_000,
): Promise<{ ok: true; value: T } | { ok: false; failure: XdpctlFailure }> {
  const bin = await ensureXdpctl();
  const r = await runProcess(bin, args, { timeoutMs, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, maxOutputBytes: 4 << 20 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: Record<string, unknown> | null = null;
  try {
    parsed = JSON.parse(line) as Record<string, unknown>;
  } catch {
    parsed = null;
  }
  if (r.code === 0 && parsed && !('error' in parsed)) return { ok: true, value: parsed as T };
  return {
    ok: false,
    failure: {
      error: String(parsed?.error ?? (r.timedOut ? 'timeout' : 'crashed')),
      detail: String(parsed?.detail ?? ''),
      errno: Number(parsed?.errno ?? 0),
      stderr: r.stderr,
    },
  };
}
