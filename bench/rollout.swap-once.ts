import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess } from '@ioplane/compiler';
import { BENCH_CACHE_DIR } from './rollout.fleet';

/**
 * The smallest detach-then-attach there is: one process that has both programs open and the
 * interface resolved, then per swap one BPF_LINK_DETACH and one BPF_LINK_CREATE back to back (no
 * process start, no pin lookup, no netns entry in between). The gap it leaves is the floor of any
 * detach-then-attach; the atomic link update has none.
 */
const SOURCE = `#define _GNU_SOURCE
#include <sched.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>

static long long now_ns(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(int argc, char **argv) {
  if (argc != 8) { fprintf(stderr, "usage: netns ifname drv|skb pinA pinB swaps interval_us\\n"); return 2; }
  int ns = open(argv[1], O_RDONLY | O_CLOEXEC);
  if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) { perror("setns"); return 1; }
  int ifindex = if_nametoindex(argv[2]);
  if (!ifindex) { perror("if_nametoindex"); return 1; }
  int progs[2] = { bpf_obj_get(argv[4]), bpf_obj_get(argv[5]) };
  if (progs[0] < 0 || progs[1] < 0) { perror("bpf_obj_get"); return 1; }
  LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = argv[3][0] == 'd' ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE);
  int swaps = atoi(argv[6]);
  long interval = atol(argv[7]);
  int link = bpf_link_create(progs[0], ifindex, BPF_XDP, &opts);
  if (link < 0) { perror("bpf_link_create"); return 1; }
  long long gap_sum = 0, gap_max = 0;
  for (int i = 0; i < swaps; i++) {
    usleep(interval);
    long long t0 = now_ns();
    if (bpf_link_detach(link) != 0) { perror("bpf_link_detach"); return 1; }
    close(link);
    link = bpf_link_create(progs[(i + 1) % 2], ifindex, BPF_XDP, &opts);
    long long gap = now_ns() - t0;
    if (link < 0) { perror("bpf_link_create"); return 1; }
    gap_sum += gap;
    if (gap > gap_max) gap_max = gap;
  }
  bpf_link_detach(link);
  close(link);
  printf("{\\"swaps\\":%d,\\"gapMeanNs\\":%lld,\\"gapMaxNs\\":%lld}\\n", swaps, swaps ? gap_sum / swaps : 0, gap_max);
  return 0;
}
`;

/** Builds the swapper once per source (content-addressed in the bench cache). */
export async function swapOnceBinary(): Promise<string> {
  const dir = join(BENCH_CACHE_DIR, 'swap-once');
  const bin = join(dir, `swap-once-${createHash('sha256').update(SOURCE).digest('hex').slice(0, 16)}`);
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  const src = `${bin}.c`;
  writeFileSync(src, SOURCE);
  const r = await runProcess('clang', ['-O2', '-o', bin, src, '-lbpf'], {
    timeoutMs: 60_000,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
  if (r.code !== 0) throw new Error(`building the one-process swapper: ${r.stdout.trim()} ${r.stderr.trim()}`);
  return bin;
}

export async function swapOnce(
  bin: string,
  a: { netns: string; ifname: string; mode: 'drv' | 'skb'; pins: [string, string]; swaps: number; intervalUs: number },
): Promise<{ swaps: number; gapMeanNs: number; gapMaxNs: number }> {
  const r = await runProcess(
    bin,
    [a.netns, a.ifname, a.mode, a.pins[0], a.pins[1], String(a.swaps), String(Math.max(0, Math.round(a.intervalUs)))],
    {
      timeoutMs: 120_000,
      env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
    },
  );
  if (r.code !== 0) throw new Error(`one-process swapper: ${r.stdout.trim()} ${r.stderr.trim()}`);
  return JSON.parse(r.stdout.trim()) as { swaps: number; gapMeanNs: number; gapMaxNs: number };
}
