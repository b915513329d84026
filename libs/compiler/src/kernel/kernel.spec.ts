import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { buildModule } from '../build/module.builder';
import { BPFFS_ROOT } from './bpftool.client';
import { kernelVerify } from './kernel.verify';
import { describeKernel, OUT_OF_BOUNDS_XDP } from '../testing';
import { pinDirPrefix } from './pin.session';
import { runVectors } from './vector.runner';

const SWAP = `#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, __u64); } seen SEC(".maps");

/* Swaps the MAC addresses and sends the frame back; after 3 frames it drops (a tiny rate limit). */
SEC("xdp") int swap_tx(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) return XDP_ABORTED;
  __u32 k = 0;
  __u64 *n = bpf_map_lookup_elem(&seen, &k);
  if (!n) return XDP_ABORTED;
  if (*n >= 3) return XDP_DROP;
  __sync_fetch_and_add(n, 1);
  unsigned char t[ETH_ALEN];
  __builtin_memcpy(t, eth->h_dest, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, t, ETH_ALEN);
  return XDP_TX;
}
char _license[] SEC("license") = "GPL";
`;

const frame = (): Buffer =>
  Buffer.concat([
    Buffer.from('aabbccddeeff', 'hex'), // dst
    Buffer.from('112233445566', 'hex'), // src
    Buffer.from('0800', 'hex'),
    Buffer.alloc(46, 0x5a),
  ]);
const swapped = (f: Buffer): Buffer => Buffer.concat([f.subarray(6, 12), f.subarray(0, 6), f.subarray(12)]);

let root: string;
const objects: Record<string, string> = {};

async function build(name: string, text: string): Promise<string> {
  const dir = join(root, name);
  await fsp.mkdir(dir, { recursive: true });
  await fsp.writeFile(join(dir, 'prog.c'), text);
  return (await buildModule({ name, dir, sources: ['prog.c'] }, { cacheDir: join(root, 'cache') })).objectPath;
}

async function leftoverPins(): Promise<string[]> {
  return (await fsp.readdir(BPFFS_ROOT).catch(() => [] as string[])).filter((d) => d.startsWith(pinDirPrefix()));
}

beforeAll(async () => {
  root = await fsp.mkdtemp('/tmp/ioplane-kernel-spec-');
});

afterAll(async () => {
  await fsp.rm(root, { recursive: true, force: true });
});

describeKernel('kernel verify and test runs', (itKernel) => {
  beforeAll(async () => {
    objects.swap = await build('swap', SWAP);
    objects.oob = await build('oob', OUT_OF_BOUNDS_XDP);
  }, 60_000);

  afterEach(async () => {
    expect(await leftoverPins()).toEqual([]);
  });

  itKernel('accepts a good program and reports what the kernel made of it', async () => {
    const r = await kernelVerify(objects.swap, { type: 'xdp' });
    expect(r.accepted).toBe(true);
    expect(r.progId).toBeGreaterThan(0);
    expect(r.tag).toMatch(/^[0-9a-f]{16}$/);
    expect(r.xlatedInsns).toBeGreaterThan(10);
    expect(r.jitedBytes).toBeGreaterThan(0);
    expect(r.verifierLog).toEqual([]);
  });

  itKernel('selects the program by function name or section, and refuses an unknown one', async () => {
    expect((await kernelVerify(objects.swap, { program: 'swap_tx' })).accepted).toBe(true);
    expect((await kernelVerify(objects.swap, { program: 'xdp' })).accepted).toBe(true);
    await expect(kernelVerify(objects.swap, { program: 'nope' })).rejects.toThrow(
      /nope is ambiguous or missing; the object holds: swap_tx/,
    );
  });

  itKernel('refuses an out-of-bounds packet read with the verifier error lines', async () => {
    const r = await kernelVerify(objects.oob);
    expect(r.accepted).toBe(false);
    expect(r.progId).toBeUndefined();
    expect(r.verifierLog.some((l) => l.includes('invalid access to packet'))).toBe(true);
    expect(r.verifierLog.some((l) => /^\d+: \(/.test(l))).toBe(false); // no instruction trace
  });

  itKernel('runs vectors: swapped MACs and XDP_TX pass, wrong expectations fail with reasons', async () => {
    const f = frame();
    const results = await runVectors(
      objects.swap,
      [
        { name: 'swap', packet: f, expectVerdict: 'XDP_TX', expectOutput: swapped(f) },
        { name: 'wrong-verdict', packet: f, expectVerdict: 'XDP_DROP' },
        { name: 'wrong-bytes', packet: f, expectVerdict: 'XDP_TX', expectOutput: f },
        { name: 'too-short', packet: Buffer.alloc(8), expectVerdict: 'XDP_PASS' },
      ],
      { timingRepeat: 1000 },
    );
    expect(results.map((r) => [r.name, r.passed])).toEqual([
      ['swap', true],
      ['wrong-verdict', false],
      ['wrong-bytes', false],
      ['too-short', false],
    ]);
    expect(results[0].actualOutputHex).toBe(swapped(f).toString('hex'));
    expect(results[0].nsPerPacket).toBeGreaterThan(0);
    expect(results[1].reason).toBe('vector "wrong-verdict": expected verdict XDP_DROP, got XDP_TX');
    expect(results[1].actualVerdict).toBe('XDP_TX');
    expect(results[2].reason).toMatch(/^vector "wrong-bytes": output differs at byte 0: expected \[aa bb cc dd/);
    expect(results[2].expectedOutputHex).toBe(f.toString('hex'));
    expect(results[2].actualOutputHex).toBe(swapped(f).toString('hex'));
    expect(results[3]).toMatchObject({ actualVerdict: 'NOT_RUN', nsPerPacket: 0 });
    expect(results[3].reason).toMatch(/at least 14/);
  });

  itKernel('checks the run after `repeat` prior runs in the same map state', async () => {
    const f = frame();
    const [second, afterLimit] = await runVectors(
      objects.swap,
      [
        { name: 'second frame still sent back', packet: f, expectVerdict: 'XDP_TX', expectOutput: swapped(f), repeat: 1 },
        { name: 'fourth frame dropped', packet: f, expectVerdict: 'XDP_DROP', repeat: 1 },
      ],
      { timingRepeat: 0 },
    );
    // The prior run must not leave its rewrite in the checked packet: output is swapped exactly once.
    expect(second).toMatchObject({ passed: true, actualVerdict: 'XDP_TX' });
    expect(afterLimit).toMatchObject({ passed: true, actualVerdict: 'XDP_DROP' });
  });

  itKernel('seeds maps before the vectors run', async () => {
    const [r] = await runVectors(objects.swap, [{ name: 'limit reached by seed', packet: frame(), expectVerdict: 'XDP_DROP' }], {
      seed: [{ map: 'seen', key: '00000000', value: '03 00 00 00 00 00 00 00' }],
      timingRepeat: 0,
    });
    expect(r.passed).toBe(true);
    await expect(runVectors(objects.swap, [], { seed: [{ map: 'missing', key: '00', value: '00' }] })).rejects.toThrow(
      /seed map missing does not exist; maps: seen/,
    );
  });
});
