import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FirmwareProfile, OffloadRules } from '@ioplane/domain';
import { analyzeFile, verifyOffload, type OffloadVerdict } from '@ioplane/compiler';
import { loadProfiles } from '@ioplane/profiles';

/**
 * One pair per rule of the nfp driver (firmware-profiles/netronome-agilio-cx-bpf-2.1.yaml, limits.offload):
 * a program that breaks only that rule is refused with that rule's reason, and its twin, which fixes only
 * that, is accepted. Programs are C compiled here with clang -target bpf.
 */
const HEAD = String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#define PKT void *data = (void *)(long)ctx->data; void *data_end = (void *)(long)ctx->data_end; \
  if (data + 64 > data_end) return XDP_PASS;
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 1024); __type(key, __u32); __type(value, __u64); } counts SEC(".maps");
char LICENSE[] SEC("license") = "GPL";
`;

/** A program body that uses `counts` the way nfp takes it: key on the stack, atomic add on the value. */
const COUNT = 'if (v) __sync_fetch_and_add(v, 1);';

interface RulePair {
  rule: string;
  bad: string;
  good: string;
  /** Extra clang flags for both. */
  cflags?: string[];
  /** Profile values an operator would set from what the firmware advertises. */
  limits?: Partial<FirmwareProfile['limits']>;
  offload?: Partial<OffloadRules>;
  /** Part of the driver's message the bad program's reasons carry. */
  says: RegExp;
}

const xdp = (body: string, extra = '') => `${HEAD}${extra}\nSEC("xdp") int prog(struct xdp_md *ctx) { ${body} }\n`;

const PAIRS: RulePair[] = [
  {
    rule: 'attach_type',
    bad: `${HEAD}SEC("xdp/devmap") int prog(struct xdp_md *ctx) { return XDP_PASS; }`,
    good: `${HEAD}SEC("xdp") int prog(struct xdp_md *ctx) { return XDP_PASS; }`,
    says: /BPF_XDP_DEVMAP programs can not be attached to a device/,
  },
  {
    rule: 'helper',
    bad: xdp('__u32 k = bpf_ktime_get_ns() & 7; __u64 *v = bpf_map_lookup_elem(&counts, &k); ' + COUNT + ' return XDP_PASS;'),
    good: xdp('__u32 k = bpf_get_prandom_u32() & 7; __u64 *v = bpf_map_lookup_elem(&counts, &k); ' + COUNT + ' return XDP_PASS;'),
    says: /unsupported function id: 5/,
  },
  {
    rule: 'map_helper_args',
    bad: xdp('PKT __u64 *v = bpf_map_lookup_elem(&counts, data + 26); ' + COUNT + ' return XDP_PASS;'),
    good: xdp('PKT __u32 k = *(__u32 *)(data + 26); __u64 *v = bpf_map_lookup_elem(&counts, &k); ' + COUNT + ' return XDP_PASS;'),
    says: /map_lookup: unsupported ptr type packet/,
  },
  {
    // The same rule's other half: a stack key off its 4-byte alignment (fp-6).
    rule: 'map_helper_args',
    bad: xdp('char buf[8]; __builtin_memset(buf, 1, 8); __u64 *v = bpf_map_lookup_elem(&counts, buf + 2); ' + COUNT + ' return XDP_PASS;'),
    good: xdp('char buf[8]; __builtin_memset(buf, 1, 8); __u64 *v = bpf_map_lookup_elem(&counts, buf + 4); ' + COUNT + ' return XDP_PASS;'),
    says: /map_lookup: unaligned stack pointer 6/,
  },
  {
    rule: 'perf_event_current_cpu',
    bad: xdp('__u64 e = 7; bpf_perf_event_output(ctx, &events, 0, &e, sizeof(e)); return XDP_PASS;', EVENTS()),
    good: xdp('__u64 e = 7; bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, &e, sizeof(e)); return XDP_PASS;', EVENTS()),
    says: /event_output: must use BPF_F_CURRENT_CPU/,
  },
  {
    rule: 'perf_event_data',
    bad: xdp('bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, ctx, 8); return XDP_PASS;', EVENTS()),
    good: xdp('PKT bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, data, 8); return XDP_PASS;', EVENTS()),
    says: /event_output: unsupported ptr type: ctx/,
  },
  {
    rule: 'map_write',
    bad: xdp('__u32 k = 1; __u64 *v = bpf_map_lookup_elem(&counts, &k); if (v) *v = 5; return XDP_PASS;'),
    good: xdp('__u32 k = 1; __u64 *v = bpf_map_lookup_elem(&counts, &k); if (v) __sync_fetch_and_add(v, 5); return XDP_PASS;'),
    says: /map writes not supported/,
  },
  {
    rule: 'atomic_target',
    bad: xdp('PKT __sync_fetch_and_add((__u64 *)(data + 16), 1); return XDP_PASS;'),
    good: xdp('PKT __u32 k = 1; __u64 *v = bpf_map_lookup_elem(&counts, &k); ' + COUNT + ' return XDP_PASS;'),
    says: /atomic add not to a map value pointer: packet/,
  },
  {
    rule: 'atomic_op',
    bad: xdp(
      '__u32 k = 1; __u64 *v = bpf_map_lookup_elem(&counts, &k); if (v && __sync_fetch_and_add(v, 1) > 9) return XDP_DROP; return XDP_PASS;',
    ),
    good: xdp('__u32 k = 1; __u64 *v = bpf_map_lookup_elem(&counts, &k); if (v) __sync_fetch_and_add(v, 1); return XDP_PASS;'),
    cflags: ['-mcpu=v3'],
    says: /atomic op not implemented: 1/,
  },
  {
    rule: 'ctx_read',
    bad: xdp('__u32 k = ctx->ingress_ifindex; __u64 *v = bpf_map_lookup_elem(&counts, &k); ' + COUNT + ' return XDP_PASS;'),
    good: xdp('PKT __u32 k = *(__u32 *)(data + 30); __u64 *v = bpf_map_lookup_elem(&counts, &k); ' + COUNT + ' return XDP_PASS;'),
    says: /mem_ldx_xdp: -EOPNOTSUPP/,
  },
  {
    rule: 'ctx_write',
    bad: xdp('ctx->rx_queue_index = 1; return XDP_PASS;'),
    good: xdp('return XDP_PASS;'),
    says: /queue selection not supported by FW/,
  },
  {
    rule: 'alu_mul',
    bad: xdp(
      'PKT __u32 k = (*(__u64 *)(data + 16) * 40503) >> 40; __u64 *v = bpf_map_lookup_elem(&counts, &k); ' + COUNT + ' return XDP_PASS;',
    ),
    good: xdp(
      'PKT __u32 k = ((__u64)*(__u32 *)(data + 16) * 40503) >> 40; __u64 *v = bpf_map_lookup_elem(&counts, &k); ' +
        COUNT +
        ' return XDP_PASS;',
    ),
    says: /multiplier is not within u32 value range/,
  },
  {
    rule: 'alu_div',
    bad: xdp(
      'PKT __u32 k = *(__u32 *)(data + 16) / *(__u32 *)(data + 20); __u64 *v = bpf_map_lookup_elem(&counts, &k); ' +
        COUNT +
        ' return XDP_PASS;',
    ),
    good: xdp('PKT __u32 k = *(__u32 *)(data + 16) / 7; __u64 *v = bpf_map_lookup_elem(&counts, &k); ' + COUNT + ' return XDP_PASS;'),
    says: /divisor is not constant/,
  },
  {
    rule: 'opcode',
    bad: xdp(
      'PKT register __u64 x asm("r0") = *(__u32 *)(data + 16); register __u64 y asm("r1") = 7; asm volatile(".byte 0x9f, 0x10, 0, 0, 0, 0, 0, 0" : "+r"(x) : "r"(y)); __u32 k = x; __u64 *v = bpf_map_lookup_elem(&counts, &k); ' +
        COUNT +
        ' return XDP_PASS;',
    ),
    good: xdp('PKT __u32 k = *(__u32 *)(data + 16) & 7; __u64 *v = bpf_map_lookup_elem(&counts, &k); ' + COUNT + ' return XDP_PASS;'),
    says: /instruction 0x9f not supported/,
  },
  {
    rule: 'stack',
    // prog's 104 B round to 128; fill's 128 B plus its 4 B return address round to 192: 320 B on the device,
    // while the host counts 232 B. The twin's 64 + 4 B round to 128: 256 B in all.
    bad: stackProgram(16),
    good: stackProgram(8),
    limits: { stackBytes: 256 },
    says: /stack too large: program 320B > FW stack 256B/,
  },
  {
    rule: 'instructions',
    bad: unrolled(600),
    good: unrolled(100),
    says: /instruction limit reached/,
  },
  {
    rule: 'map_type',
    bad: mapProgram('BPF_MAP_TYPE_LRU_HASH', 1024, '__u64'),
    good: mapProgram('BPF_MAP_TYPE_HASH', 1024, '__u64'),
    says: /map type not supported/,
  },
  {
    rule: 'map_flags',
    bad: mapProgram('BPF_MAP_TYPE_HASH', 1024, '__u64', '__uint(map_flags, BPF_F_NO_PREALLOC);'),
    good: mapProgram('BPF_MAP_TYPE_HASH', 1024, '__u64'),
    says: /map flags are not supported/,
  },
  {
    rule: 'map_entry_size',
    // key 4 -> 8 and value 60 -> 64: 72 B, over 64 although 4 + 60 = 64; value 56 fits exactly.
    bad: mapProgram('BPF_MAP_TYPE_HASH', 1024, 'struct { __u64 n; char pad[52]; }'),
    good: mapProgram('BPF_MAP_TYPE_HASH', 1024, 'struct { __u64 n; char pad[48]; }'),
    says: /map elements too large: 72, FW max element size \(key\+value\): 64/,
  },
  {
    // The firmware's max_key_sz and max_val_sz, when an operator sets them: here 8 and 16 B.
    rule: 'map_key_size',
    bad: mapProgram('BPF_MAP_TYPE_HASH', 1024, '__u64', '', 'key12_t'),
    good: mapProgram('BPF_MAP_TYPE_HASH', 1024, '__u64', '', 'key8_t'),
    offload: { maxKeyBytes: 8, maxValueBytes: 16 },
    says: /map key size 12, FW max is 8/,
  },
  {
    rule: 'map_value_size',
    bad: mapProgram('BPF_MAP_TYPE_HASH', 1024, 'val24_t'),
    good: mapProgram('BPF_MAP_TYPE_HASH', 1024, 'val16_t'),
    offload: { maxKeyBytes: 8, maxValueBytes: 16 },
    says: /map value size 24, FW max is 16/,
  },
  {
    rule: 'map_entries',
    bad: mapProgram('BPF_MAP_TYPE_HASH', 4_000_000, '__u64'),
    good: mapProgram('BPF_MAP_TYPE_HASH', 1_000_000, '__u64'),
    says: /map with too many elements: 4000000, left: 3070000/,
  },
];

function EVENTS(): string {
  return 'struct { __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY); __uint(key_size, sizeof(int)); __uint(value_size, sizeof(int)); } events SEC(".maps");';
}

/** prog keeps 13 x 8 B on its frame (rounded to 128 on nfp) and calls fill, which keeps `words` x 8 B. */
function stackProgram(words: number): string {
  return `${HEAD}
static __attribute__((noinline)) __u64 fill(__u64 seed) {
  volatile __u64 buf[${words}];
  #pragma unroll
  for (int i = 0; i < ${words}; i++) buf[i] = seed + i;
  return buf[${words - 1}] + buf[0];
}
SEC("xdp") int prog(struct xdp_md *ctx) {
  volatile __u64 own[13];
  #pragma unroll
  for (int i = 0; i < 13; i++) own[i] = i;
  __u32 k = fill(own[12]) & 7;
  __u64 *v = bpf_map_lookup_elem(&counts, &k);
  ${COUNT}
  return XDP_PASS;
}`;
}

function unrolled(rounds: number): string {
  return xdp(`PKT __u32 acc = *(__u32 *)(data + 16);
  #pragma unroll
  for (int i = 0; i < ${rounds}; i++) acc ^= (acc << 3) + (acc >> 2) + i;
  __u32 k = acc & 7; __u64 *v = bpf_map_lookup_elem(&counts, &k); ${COUNT} return XDP_PASS;`);
}

function mapProgram(type: string, entries: number, value: string, extra = '', key = '__u32'): string {
  return `${HEAD}
typedef struct { __u32 a, b, c; } key12_t; typedef struct { __u32 a, b; } key8_t;
typedef struct { __u64 n, m, o; } val24_t; typedef struct { __u64 n, m; } val16_t;
struct { __uint(type, ${type}); __uint(max_entries, ${entries}); __type(key, ${key}); __type(value, ${value}); ${extra} } table SEC(".maps");
SEC("xdp") int prog(struct xdp_md *ctx) {
  ${key} k = {1};
  __u64 *v = bpf_map_lookup_elem(&table, &k);
  ${COUNT}
  return XDP_PASS;
}`;
}

describe('nfp offload rules: each refuses its own program and accepts the fixed twin', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ioplane-nfp-rules-'));
  let nfp: FirmwareProfile;
  const built = new Map<string, string>();

  const compile = (name: string, source: string, cflags: string[] = []): string => {
    const key = `${name}\n${source}\n${cflags.join(' ')}`;
    if (built.has(key)) return built.get(key)!;
    const src = join(dir, `${name}.c`);
    const obj = join(dir, `${name}.o`);
    writeFileSync(src, source);
    execFileSync('clang', ['-O2', '-g', '-target', 'bpf', ...cflags, '-I/usr/include/x86_64-linux-gnu', '-c', src, '-o', obj], {
      stdio: 'pipe',
    });
    built.set(key, obj);
    return obj;
  };
  const verdict = (obj: string, limits: Partial<FirmwareProfile['limits']> = {}, offload: Partial<OffloadRules> = {}): OffloadVerdict =>
    verifyOffload(analyzeFile(obj), 'prog', {
      ...nfp,
      limits: { ...nfp.limits, ...limits, offload: { ...nfp.limits.offload!, ...offload } },
    });

  beforeAll(() => {
    nfp = loadProfiles().find((p) => p.id === 'netronome-agilio-cx-bpf-2.1')!;
    expect(nfp.limits.offload?.driver).toBe('nfp');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each(PAIRS.map((p) => [`${p.rule}: ${p.says.source}`, p] as const))('%s', (_rule, pair) => {
    const bad = verdict(compile(`${pair.rule}-bad`, pair.bad, pair.cflags), pair.limits, pair.offload);
    expect(bad.accepted).toBe(false);
    expect(bad.reasons.length).toBeGreaterThan(0);
    // Only this rule: every reason names it, one of them with the driver's words.
    expect([...new Set(bad.reasons.map((r) => r.rule))]).toEqual([pair.rule]);
    expect(bad.reasons.some((r) => pair.says.test(r.driverMessage ?? '') && pair.says.test(r.message))).toBe(true);
    for (const r of bad.reasons) expect(r.message).toContain(`[rule ${pair.rule}]`);
    const sited = bad.reasons.filter((r) => r.insn !== undefined);
    for (const r of sited) expect(r).toMatchObject({ function: expect.any(String), section: expect.any(String) });

    const good = verdict(compile(`${pair.rule}-good`, pair.good, pair.cflags), pair.limits, pair.offload);
    expect(good.reasons).toEqual([]);
    expect(good.acceptedTargets).toEqual(['nic-xdp-offload']);
  });

  it('takes BPF-to-BPF calls and PERF_EVENT_ARRAY with perf_event_output on the current CPU, which nfp supports', () => {
    const calls = verdict(compile('calls', stackProgram(8)));
    expect(analyzeFile(compile('calls', stackProgram(8))).programs[0].bpfCalls).toHaveLength(1);
    expect(calls.reasons).toEqual([]);
    const perf = verdict(compile('perf', PAIRS.find((p) => p.rule === 'perf_event_current_cpu')!.good));
    expect(perf.reasons).toEqual([]);
    // A subprogram handed a key on its caller's stack and the ctx: what it passes the helpers is known.
    const handed = compile(
      'handed',
      `${HEAD}${EVENTS()}
static __attribute__((noinline)) int bump(struct xdp_md *ctx, __u32 *key) {
  __u64 *v = bpf_map_lookup_elem(&counts, key);
  ${COUNT}
  return bpf_perf_event_output(ctx, &events, BPF_F_CURRENT_CPU, key, sizeof(*key));
}
SEC("xdp") int prog(struct xdp_md *ctx) { __u32 k = 3; return bump(ctx, &k) ? XDP_DROP : XDP_PASS; }`,
    );
    const facts = analyzeFile(handed);
    expect(facts.programs[0].helperCalls.map((h) => [h.function, h.helper, h.args[1].kind])).toEqual([
      ['bump', 1, 'stack'],
      ['bump', 25, 'map_ptr'],
    ]);
    expect(facts.subprograms[0].stackBytes).toBe(0); // the key lives in prog's frame
    expect(verdict(handed).reasons).toEqual([]);
  });

  it('cites the slot llvm-objdump prints and carries the reasons as data', () => {
    const obj = compile('helper-bad', PAIRS.find((p) => p.rule === 'helper')!.bad);
    const r = verdict(obj).reasons[0];
    const dis = execFileSync('llvm-objdump', ['-d', obj], { encoding: 'utf8' });
    expect(dis).toMatch(new RegExp(`^\\s+${r.insn}:\\t[0-9a-f ]+\\tcall 5$`, 'm'));
    expect(JSON.parse(JSON.stringify(r))).toMatchObject({
      code: 'helper',
      rule: 'helper',
      insn: r.insn,
      function: 'prog',
      section: 'xdp',
      driverMessage: 'unsupported function id: 5',
    });
    expect(readFileSync(obj).length).toBeGreaterThan(0);
  });
});
