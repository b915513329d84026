import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';

/**
 * Real BPF objects for the specs, compiled with the installed clang. Test support only:
 * nothing outside *.spec.ts imports this file.
 */

/** LPM_TRIE + LRU_HASH, bpf_fib_lookup, a bounded loop in a noinline subprogram, a MOD, bpf_redirect. */
export const ROUTER_C = String.raw`
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <bpf/bpf_helpers.h>

struct lpm_key { __u32 prefixlen; __u32 addr; };
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(max_entries, 1024);
  __type(key, struct lpm_key);
  __type(value, __u64);
  __uint(map_flags, BPF_F_NO_PREALLOC);
} routes SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u32);
  __type(value, __u64);
} flows SEC(".maps");

volatile __u32 buckets = 7;
const volatile __u32 rounds = 16;

static __attribute__((noinline)) __u32 mix(__u32 x, __u32 n) {
  __u32 acc = x;
  for (__u32 i = 0; i < n && i < 64; i++) acc = acc * 31 + i;
  return acc / buckets;
}

SEC("xdp")
int route(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct iphdr *ip = data + sizeof(struct ethhdr);
  if ((void *)(ip + 1) > data_end) return XDP_PASS;
  struct bpf_fib_lookup fib = {};
  fib.family = 2;
  fib.ipv4_dst = ip->daddr;
  fib.ifindex = ctx->ingress_ifindex;
  int rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
  struct lpm_key k = { 32, ip->daddr };
  __u64 *v = bpf_map_lookup_elem(&routes, &k);
  if (v) __sync_fetch_and_add(v, 1);
  __u32 h = mix(ip->saddr, rounds);
  /* r0 %= r1 (BPF_ALU64|BPF_MOD|BPF_X = 0x9f): clang 14 expands '%' and cannot assemble MOD, so spell it. */
  register __u64 x asm("r0") = h;
  register __u64 y asm("r1") = ctx->rx_queue_index + 1;
  asm volatile(".byte 0x9f, 0x10, 0, 0, 0, 0, 0, 0" : "+r"(x) : "r"(y));
  h = x;
  __u64 *c = bpf_map_lookup_elem(&flows, &h);
  if (c) __sync_fetch_and_add(c, 1);
  if (rc == 0) return bpf_redirect(fib.ifindex, 0);
  return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`;

/** HASH + ARRAY only, xdp_adjust_head: fits a Netronome-style profile. Plus a pure match-action ACL. */
export const STRIPPER_C = String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, __u64);
} allow SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 4);
  __type(key, __u32);
  __type(value, __u64);
} stats SEC(".maps");

SEC("xdp")
int strip(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  if (data + 18 > data_end) return XDP_DROP;
  __u32 key = *(__u32 *)(data + 14);
  __u32 idx = 0;
  __u64 *hit = bpf_map_lookup_elem(&allow, &key);
  if (!hit) {
    __u64 *s = bpf_map_lookup_elem(&stats, &idx);
    if (s) __sync_fetch_and_add(s, 1);
    return XDP_DROP;
  }
  if (bpf_xdp_adjust_head(ctx, 4)) return XDP_ABORTED;
  return XDP_PASS;
}

SEC("xdp")
int acl(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  if (data + 34 > data_end) return XDP_PASS;
  __u32 src = *(__u32 *)(data + 26);
  __u64 *hits = bpf_map_lookup_elem(&allow, &src);
  if (!hits) return XDP_DROP;
  __sync_fetch_and_add(hits, 1);
  return XDP_PASS;
}

/* A store into the packet: not match-action. */
SEC("tc")
int mark(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data;
  void *data_end = (void *)(long)skb->data_end;
  if (data + 16 > data_end) return 0;
  *(__u8 *)(data + 15) = 0x2e;
  return 0;
}
char LICENSE[] SEC("license") = "Dual BSD/GPL";
`;

/** Only a .text function: an object with no program. */
export const NO_PROGRAM_C = 'int add(int a, int b) { return a + b; }\n';

export interface Fixture {
  path: string;
  buf: Buffer;
  /** `llvm-objdump -d` instruction lines per function name: slot index -> text. */
  disasm: Map<string, Array<{ index: number; text: string }>>;
}

export class BpfFixtures {
  readonly dir = mkdtempSync(join(tmpdir(), 'ioplane-bpf-spec-'));

  compile(name: string, source: string): Fixture {
    const src = join(this.dir, `${name}.c`);
    const path = join(this.dir, `${name}.o`);
    writeFileSync(src, source);
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', '-I/usr/include/x86_64-linux-gnu', '-c', src, '-o', path], { stdio: 'pipe' });
    return { path, buf: readFileSync(path), disasm: objdump(path) };
  }

  cleanup(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function objdump(path: string): Map<string, Array<{ index: number; text: string }>> {
  const out = new Map<string, Array<{ index: number; text: string }>>();
  let current: Array<{ index: number; text: string }> | undefined;
  for (const line of execFileSync('llvm-objdump', ['-d', path], { encoding: 'utf8' }).split('\n')) {
    const fn = /^[0-9a-f]{16} <(\w+)>:$/.exec(line);
    if (fn && !/^LBB/.test(fn[1])) out.set(fn[1], (current = []));
    const insn = /^\s+(\d+):\t(?:[0-9a-f]{2} ?)+\t(.*)$/.exec(line);
    if (insn && current) current.push({ index: Number(insn[1]), text: insn[2].trim() });
  }
  return out;
}
