import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkObject } from '@ioplane/catalog';
import { analyzeFile, BPFFS_ROOT, kernelVerify, pinDirPrefix } from '@ioplane/compiler';
import { describeKernel } from '@ioplane/compiler/testing';
import { moduleManifestSchema } from '@ioplane/modules';
import { loadProfiles } from '@ioplane/profiles';
import { bpftoolLoadall } from './analyzer.fixture';

/**
 * Objects as other projects write them: iproute2's `struct bpf_elf_map` in a `maps` section with a
 * custom program section, a tc classifier, an XDP program in a section libbpf does not know, an
 * object whose first program is a tracepoint, and a map pinned by name.
 */
const PIN = `ioplane_pin_${randomBytes(4).toString('hex')}`;

const SOURCES: Record<string, string> = {
  // iproute2's include/bpf_elf.h layout, as `ip link set dev X xdp obj o.o sec prog` loads it.
  iproute2: String.raw`
#include <linux/bpf.h>
#define SEC(n) __attribute__((section(n), used))
struct bpf_elf_map { __u32 type, size_key, size_value, max_elem, flags, id, pinning, inner_id, inner_idx; };
struct bpf_elf_map SEC("maps") acl = { .type = BPF_MAP_TYPE_HASH, .size_key = 4, .size_value = 8, .max_elem = 256, .pinning = 2 };
static void *(*lookup)(void *map, const void *key) = (void *)1;
SEC("prog") int filter(struct xdp_md *ctx) {
  __u32 k = 0;
  return lookup(&acl, &k) ? XDP_DROP : XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`,
  tc: String.raw`
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
SEC("tc") int classify(struct __sk_buff *skb) { return skb->priority > 7 ? TC_ACT_SHOT : TC_ACT_OK; }
char LICENSE[] SEC("license") = "GPL";
`,
  custom: String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp_prog") int drop_all(struct xdp_md *ctx) { return XDP_DROP; }
char LICENSE[] SEC("license") = "GPL";
`,
  mixed: String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("tracepoint/syscalls/sys_enter_getpid") int trace(void *ctx) { return 0; }
SEC("xdp") int pass(struct xdp_md *ctx) { return XDP_PASS; }
char LICENSE[] SEC("license") = "GPL";
`,
  pinned: String.raw`
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64);
  __uint(pinning, LIBBPF_PIN_BY_NAME); } ${PIN} SEC(".maps");
SEC("xdp") int count(struct xdp_md *ctx) {
  __u32 k = 0; __u64 *v = bpf_map_lookup_elem(&${PIN}, &k);
  if (v) __sync_fetch_and_add(v, 1);
  return XDP_PASS;
}
char LICENSE[] SEC("license") = "GPL";
`,
};

const dir = mkdtempSync(join(tmpdir(), 'ioplane-objects-spec-'));
const objects: Record<string, string> = {};
beforeAll(() => {
  for (const [name, src] of Object.entries(SOURCES)) {
    writeFileSync(join(dir, `${name}.c`), src);
    execFileSync(
      'clang',
      ['-O2', '-g', '-target', 'bpf', '-I/usr/include/x86_64-linux-gnu', '-c', join(dir, `${name}.c`), '-o', join(dir, `${name}.o`)],
      { stdio: 'pipe' },
    );
    objects[name] = join(dir, `${name}.o`);
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('objects built elsewhere, analysed', () => {
  it("recognises iproute2's bpf_elf_map with its pinning, and a custom section as unknown until a type is given", () => {
    const f = analyzeFile(objects.iproute2);
    expect(f.maps).toEqual([
      expect.objectContaining({
        name: 'acl',
        source: 'iproute2',
        pinning: 'global_ns',
        type: 1,
        keySize: 4,
        valueSize: 8,
        maxEntries: 256,
      }),
    ]);
    expect(f.programs.map((p) => [p.name, p.section, p.type, p.typeSource])).toEqual([['filter', 'prog', 'unknown', 'unknown']]);
    const typed = analyzeFile(objects.iproute2, { types: { '*': 'xdp' } });
    expect(typed.programs.map((p) => [p.type, p.attachType, p.typeSource])).toEqual([['xdp', 'XDP', 'given']]);
    expect(analyzeFile(objects.custom, { types: { drop_all: 'xdp/devmap' } }).programs[0]).toMatchObject({
      type: 'xdp',
      attachType: 'XDP_DEVMAP',
      typeSource: 'given',
    });
  });

  it('refuses a custom-section program on XDP targets with the hint to give its type, and judges it as the given type', async () => {
    const profiles = loadProfiles().filter((p) => p.id === 'netronome-agilio-cx-bpf-2.1');
    const cacheDir = join(dir, 'cache');
    const untyped = await checkObject(
      readFileSync(objects.custom),
      { name: 'custom', version: '0.0.0' },
      { cacheDir, profiles, kernel: 'off' },
    );
    expect(untyped.program.type).toBe('unknown');
    expect(untyped.verdicts[0].reasons.find((r) => r.code === 'program_type')!.message).toMatch(/not a libbpf section name: give the type/);
    const typed = await checkObject(
      readFileSync(objects.custom),
      { name: 'custom', version: '0.0.0', type: 'xdp' },
      { cacheDir, profiles, kernel: 'off' },
    );
    expect(typed.program).toMatchObject({ type: 'xdp', typeSource: 'given' });
    expect(typed.verdicts.map((v) => v.accepted)).toEqual([true, true]);
  });

  it('deploys the XDP program of an object whose first program is a tracepoint, listing both', async () => {
    const r = await checkObject(
      readFileSync(objects.mixed),
      { name: 'mixed', version: '0.0.0' },
      { cacheDir: join(dir, 'cache'), profiles: [], kernel: 'off' },
    );
    expect(r.program.name).toBe('pass');
    expect(r.programs.map((p) => [p.name, p.type, p.deployed])).toEqual([
      ['trace', 'tracepoint', false],
      ['pass', 'xdp', true],
    ]);
    expect(r.programs[0].verdicts[0]).toMatchObject({ profileId: 'host-kernel', accepted: false });
    expect(r.verdicts[0]).toMatchObject({ profileId: 'host-kernel', accepted: true });
  });

  it('takes --program and --type on the command line', () => {
    const cli = (...args: string[]) =>
      spawnSync(
        process.execPath,
        ['-r', '@swc-node/register', 'apps/cli/src/main.ts', 'modules', 'check', ...args, '--json', '--no-kernel'],
        { encoding: 'utf8', timeout: 120_000 },
      );
    const typed = cli(objects.custom, '--type', 'xdp');
    expect(typed.status).toBe(0);
    expect(JSON.parse(typed.stdout).program).toMatchObject({ name: 'drop_all', type: 'xdp', typeSource: 'given' });
    const picked = JSON.parse(cli(objects.mixed, '--program', 'trace').stdout);
    expect(picked.program.name).toBe('trace');
    expect(picked.programs.map((p: { name: string; deployed: boolean }) => [p.name, p.deployed])).toEqual([
      ['trace', true],
      ['pass', false],
    ]);
    const bad = cli(objects.custom, '--type', 'nonsense');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/--type: nonsense is not a program type libbpf knows/);
  });

  it('takes a manifest program type from the closed list only', () => {
    const base = {
      name: 'x',
      version: '1.0.0',
      description: 'd',
      sources: ['x.c'],
      program: 'prog',
      traffic: { pps: 1, meanPacketBytes: 64 },
      latencyBudgetUs: 1,
      hints: { prefer: 'auto', persistentMaps: [] },
      vectors: [{ name: 'v', input: { hex: '00' }, expect: { verdict: 'XDP_PASS' } }],
    };
    expect(moduleManifestSchema.safeParse({ ...base, type: 'xdp' }).success).toBe(true);
    const bad = moduleManifestSchema.safeParse({ ...base, type: 'kprobe' });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]).toMatchObject({
      path: ['type'],
      message: expect.stringMatching(/must be a program type: xdp, xdp.frags/),
    });
  });
});

describeKernel('objects built elsewhere, in the kernel', (itKernel) => {
  afterEach(() => {
    expect(readdirSync(BPFFS_ROOT).filter((d) => d.startsWith(pinDirPrefix()))).toEqual([]);
  });

  itKernel('loads a tc classifier as tc (not XDP), as bpftool does', async () => {
    const r = await kernelVerify(objects.tc, { program: 'classify' });
    expect(r.accepted).toBe(true);
    expect(bpftoolLoadall(objects.tc, 'tc')).toBe(true);
    // Loaded as XDP it is refused: __sk_buff.priority (offset 32) is past the end of xdp_md.
    expect((await kernelVerify(objects.tc, { program: 'classify', type: 'xdp' })).accepted).toBe(false);
  });

  itKernel('loads a custom-section program only with its given type, like bpftool', async () => {
    expect((await kernelVerify(objects.custom, { program: 'drop_all' })).accepted).toBe(bpftoolLoadall(objects.custom, null));
    expect(bpftoolLoadall(objects.custom, null)).toBe(false);
    expect((await kernelVerify(objects.custom, { program: 'drop_all', type: 'xdp' })).accepted).toBe(true);
    expect(bpftoolLoadall(objects.custom, 'xdp')).toBe(true);
  });

  itKernel('pins a LIBBPF_PIN_BY_NAME map inside the check only, and removes it', async () => {
    const r = await kernelVerify(objects.pinned, { program: 'count' });
    expect(r.accepted).toBe(true);
    expect(existsSync(join(BPFFS_ROOT, PIN))).toBe(false);
  });

  itKernel("gives iproute2's legacy maps object the verdict bpftool gives it", async () => {
    const ours = await kernelVerify(objects.iproute2, { program: 'filter', type: 'xdp' });
    expect(ours.accepted).toBe(bpftoolLoadall(objects.iproute2, 'xdp'));
  });

  itKernel('loads every program of a mixed object with its own type', async () => {
    const r = await kernelVerify(objects.mixed, { program: 'pass' });
    expect(bpftoolLoadall(objects.mixed, null)).toBe(true);
    expect(r).toMatchObject({ accepted: true, loadType: null, loadedPrograms: ['pass', 'trace'] });
    // A given type goes to every program of the object, as bpftool loadall ... type does.
    const forced = await kernelVerify(objects.mixed, { program: 'pass', type: 'xdp' });
    expect(forced.accepted).toBe(bpftoolLoadall(objects.mixed, 'xdp'));
  });
});
