import { findBpftool, runProcess, type RunResult } from '@ioplane/compiler';
import { DeviceError } from '../device.error';

/** bpftool with a bounded time; the raw result, never a throw on a non-zero exit. */
export async function bpftool(args: string[], timeoutMs = 30_000): Promise<RunResult> {
  const bin = findBpftool();
  if (!bin) throw new DeviceError('kernel_failed', 'bpftool is not installed');
  return runProcess(bin, args, { timeoutMs, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, maxOutputBytes: 16 << 20 });
}
