import { existsSync } from 'node:fs';
import { findBpftool, runProcess, type RunResult } from '@ioplane/compiler';
import { DeviceError } from '../device.error';

/** bpftool with a bounded time; the raw result, never a throw on a non-zero exit. */
export async function bpftool(args: string[], timeoutMs = 30_000): Promise<RunResult> {
  const bin = findBpftool();
  if (!bin) throw new DeviceError('kernel_failed', 'bpftool is not installed');
  return runProcess(bin, args, { timeoutMs, env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, maxOutputBytes: 16 << 20 });
}

export interface PinnedProg {
  id: number;
  tag: string;
  runCnt: number;
  runTimeNs: number;
}

/** The program pinned at `pin` with its run stats; null when nothing is pinned there. */
export async function pinnedProg(pin: string): Promise<PinnedProg | null> {
  if (!existsSync(pin)) return null;
  const r = await bpftool(['prog', 'show', 'pinned', pin, '-j']);
  if (r.code !== 0) return null;
  const j = JSON.parse(r.stdout) as { id: number; tag: string; run_cnt?: number; run_time_ns?: number };
  return { id: j.id, tag: j.tag, runCnt: j.run_cnt ?? 0, runTimeNs: j.run_time_ns ?? 0 };
}

/** Id of the program a pinned bpf_link runs; null when no link is pinned there. */
export async function linkedProgId(linkPin: string): Promise<number | null> {
  if (!existsSync(linkPin)) return null;
  const r = await bpftool(['link', 'show', 'pinned', linkPin, '-j']);
  if (r.code !== 0) return null;
  return (JSON.parse(r.stdout) as { prog_id?: number }).prog_id ?? null;
}
