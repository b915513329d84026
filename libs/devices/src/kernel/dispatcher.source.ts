import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { loadToolchain, runProcess } from '@ioplane/compiler';
import { DeviceError } from '../device.error';

/**
 * Root program of a chain of several modules (libxdp's design): one global no-inline stub per
 * slot, replaced by each module through freplace; the dispatcher calls the slots in placement
 * order, stops at the first verdict other than XDP_PASS, and counts packets, bytes and drops per
 * slot in `iop_stats`. A chain change builds a whole new dispatcher and swaps the root atomically.
 */
export function dispatcherSource(slots: number): string {
  const stubs: string[] = [];
  const calls: string[] = [];
  for (let i = 0; i < slots; i++) {
    stubs.push(
      `__attribute__((noinline)) int slot_${i}(struct xdp_md *ctx) { volatile int ret = XDP_PASS; if (!ctx) return XDP_ABORTED; return ret; }`,
    );
    calls.push(`  len = ctx->data_end - ctx->data; ret = slot_${i}(ctx); account(${i}, len, ret); if (ret != XDP_PASS) return ret;`);
  }
  return `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct iop_stat { __u64 packets; __u64 bytes; __u64 drops; __u64 other; };
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, ${slots}); __type(key, __u32); __type(value, struct iop_stat); } iop_stats SEC(".maps");
${stubs.join('\n')}
static __always_inline void account(__u32 i, __u64 len, int ret) {
  struct iop_stat *s = bpf_map_lookup_elem(&iop_stats, &i);
  if (!s) return;
  s->packets++;
  s->bytes += len;
  if (ret == XDP_DROP || ret == XDP_ABORTED) s->drops++; else if (ret != XDP_PASS) s->other++;
}
SEC("xdp") int iop_dispatch(struct xdp_md *ctx) {
  __u64 len; int ret;
${calls.join('\n')}
  return XDP_PASS;
}
char _license[] SEC("license") = "GPL";
`;
}

/** Compiles (once per slot count) the dispatcher object into `dir`. */
export async function buildDispatcher(dir: string, slots: number): Promise<string> {
  const out = join(dir, `dispatcher-${slots}.o`);
  if (existsSync(out)) return out;
  await fsp.mkdir(dir, { recursive: true });
  const src = join(dir, `dispatcher-${slots}.c`);
  await fsp.writeFile(src, dispatcherSource(slots));
  const tc = await loadToolchain('clang');
  const tmp = `${out}.tmp-${process.pid}`;
  const r = await runProcess(tc.clang, [...tc.flags, '-c', src, '-o', tmp], { timeoutMs: 30_000, env: { PATH: '/usr/bin:/bin' } });
  if (r.code !== 0)
    throw new DeviceError('kernel_failed', `building the chain dispatcher failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  await fsp.rename(tmp, out);
  return out;
}
