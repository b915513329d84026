import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { buildModule, computeDigest } from './module.builder';
import { createSandbox, removeSandbox } from './module.sandbox';
import { SDK_BUILD_SUBDIR, SDK_INCLUDE_DIR } from './sdk.headers';
import { importObject } from './artifact.cache';
import { buildError, privateTmpdir, writeModuleDir, type PrivateTmpdir } from '../testing';

const XDP_OK = `#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include "swap.h"

SEC("xdp") int swap(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > end) return XDP_DROP;
  swap_macs(eth);
  return XDP_TX;
}
char _license[] SEC("license") = "GPL";
`;
const SWAP_H = `static inline void swap_macs(struct ethhdr *eth) {
  unsigned char t[6];
  __builtin_memcpy(t, eth->h_dest, 6);
  __builtin_memcpy(eth->h_dest, eth->h_source, 6);
  __builtin_memcpy(eth->h_source, t, 6);
}
`;

let dirs: PrivateTmpdir;
let root: string;
let tmpRoot: string;
let clangLog: string;
let clangWrapper: string;
// The logging clang wrapper lives under /tmp, which the sandbox does not show: the tests that count
// compiler runs use it without the sandbox (what they check, the cache and the scan, is the same).
const counted = () => ({ clang: clangWrapper, sandbox: { unsandboxedForTests: true } });

const moduleDir = (name: string, files: Record<string, string>) => writeModuleDir(join(root, name), files);

async function compilerRuns(): Promise<string[]> {
  const log = await fsp.readFile(clangLog, 'utf8').catch(() => '');
  return log.split('\n').filter((l) => / -(c|E) /.test(` ${l} `));
}

beforeAll(async () => {
  // The compiler runs as nobody when the tests run as root: the wrapper and its log must be reachable.
  dirs = await privateTmpdir('ioplane-build-spec-');
  ({ root, tmp: tmpRoot } = dirs);
  clangLog = join(root, 'clang.log');
  await fsp.writeFile(clangLog, '', { mode: 0o666 });
  await fsp.chmod(clangLog, 0o666);
  clangWrapper = join(root, 'clang-wrapper.sh');
  await fsp.writeFile(clangWrapper, `#!/bin/sh\necho "$@" >> ${clangLog}\nexec /usr/bin/clang "$@"\n`, { mode: 0o755 });
});

afterAll(() => dirs?.restore());

afterEach(async () => {
  // Every build removes its sandbox, whatever the outcome.
  expect(await fsp.readdir(tmpRoot)).toEqual([]);
});

describe('buildModule', () => {
  it('compiles an XDP program into the cache, then serves the second build from the cache without clang', async () => {
    const dir = await moduleDir('swap', { 'prog.c': XDP_OK, 'swap.h': SWAP_H });
    const cacheDir = join(root, 'cache');
    const first = await buildModule({ name: 'swap', dir, sources: ['prog.c'] }, { cacheDir, ...counted() });
    expect(first.cached).toBe(false);
    expect(first.digest).toMatch(/^[0-9a-f]{64}$/);
    expect(first.objectPath).toBe(join(cacheDir, `${first.digest}.o`));
    expect(first.clangVersion).toMatch(/clang version/);
    expect(first.flags).toEqual(expect.arrayContaining(['-O2', '-g', '-target', 'bpf', '-nostdinc']));
    const obj = await fsp.readFile(first.objectPath);
    expect(obj.subarray(0, 4)).toEqual(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
    expect(obj.readUInt16LE(18)).toBe(247); // EM_BPF
    expect(first.sizeBytes).toBe(obj.length);
    expect(obj.includes(Buffer.from(root))).toBe(false); // no temp path leaks into debug info

    const runsBefore = (await compilerRuns()).length;
    const mtimeBefore = (await fsp.stat(first.objectPath)).mtimeMs;
    const second = await buildModule({ name: 'swap', dir, sources: ['prog.c'] }, { cacheDir, ...counted() });
    expect(second).toEqual({ ...first, cached: true });
    expect((await compilerRuns()).length).toBe(runsBefore);
    expect((await fsp.stat(first.objectPath)).mtimeMs).toBe(mtimeBefore);

    // A changed header is a changed input.
    await fsp.writeFile(join(dir, 'swap.h'), `${SWAP_H}\n/* edit */\n`);
    const third = await buildModule({ name: 'swap', dir, sources: ['prog.c'] }, { cacheDir, ...counted() });
    expect(third.cached).toBe(false);
    expect(third.digest).not.toBe(first.digest);
  });

  it("builds a chained module with ioplane's <iop_chain.h>, which the module folder does not hold", async () => {
    const dir = await moduleDir('chained', {
      'prog.c': `#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n#include <iop_chain.h>\nstatic __always_inline int v(struct xdp_md *c) { return XDP_PASS; }\nSEC("xdp") int m(struct xdp_md *c) { return v(c); }\nIOP_CHAIN_ENTRY(v)\nchar _license[] SEC("license") = "GPL";\n`,
    });
    // The sandboxed build: the header reaches clang only through the build folder.
    const art = await buildModule({ name: 'chained', dir, sources: ['prog.c'] }, { cacheDir: join(root, 'cache') });
    const obj = await fsp.readFile(art.objectPath);
    expect(obj.includes(Buffer.from('xdp.iop_chain'))).toBe(true);
    expect(art.flags).toEqual(expect.arrayContaining(['-isystem', `./${SDK_BUILD_SUBDIR}`]));
  });

  it("puts ioplane's headers into every build folder and so into the digest", async () => {
    const dir = await moduleDir('sdk-digest', { 'prog.c': XDP_OK, 'swap.h': SWAP_H });
    const box = await createSandbox(dir, ['prog.c']);
    try {
      const header = await fsp.readFile(join(SDK_INCLUDE_DIR, 'iop_chain.h'));
      expect(box.bytes.get(`${SDK_BUILD_SUBDIR}/iop_chain.h`)?.equals(header)).toBe(true);
      expect((await fsp.readFile(join(box.dir, SDK_BUILD_SUBDIR, 'iop_chain.h'))).equals(header)).toBe(true);
      const tc = { version: 'v', flags: [] };
      const changed = new Map(box.bytes).set(`${SDK_BUILD_SUBDIR}/iop_chain.h`, Buffer.concat([header, Buffer.from('\n')]));
      expect(computeDigest({ ...box, bytes: changed }, tc)).not.toBe(computeDigest(box, tc));
    } finally {
      await removeSandbox(box.dir);
    }
  });

  it('a module file cannot take the place of the headers: dot entries are not copied', async () => {
    const dir = await moduleDir('sdk-shadow', {
      'prog.c': XDP_OK,
      'swap.h': SWAP_H,
      [`${SDK_BUILD_SUBDIR}/iop_chain.h`]: '#error shadowed\n',
    });
    const box = await createSandbox(dir, ['prog.c']);
    try {
      expect(box.bytes.get(`${SDK_BUILD_SUBDIR}/iop_chain.h`)?.toString()).not.toContain('#error shadowed');
    } finally {
      await removeSandbox(box.dir);
    }
  });

  it('lets concurrent builds share a cache directory without partial files', async () => {
    const dir = await moduleDir('concurrent', { 'prog.c': XDP_OK, 'swap.h': SWAP_H });
    const cacheDir = join(root, 'shared-cache');
    const all = await Promise.all([1, 2, 3, 4].map(() => buildModule({ name: 'c', dir, sources: ['prog.c'] }, { cacheDir })));
    expect(new Set(all.map((a) => a.digest)).size).toBe(1);
    expect((await fsp.readdir(cacheDir)).sort()).toEqual([`${all[0].digest}.json`, `${all[0].digest}.o`]);
    expect((await fsp.stat(all[0].objectPath)).size).toBe(all[0].sizeBytes);
  });

  it('links several sources into one object', async () => {
    const dir = await moduleDir('multi', {
      'main.c': `#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\n__attribute__((noinline)) int pick(int x);\nSEC("xdp") int entry(struct xdp_md *c) { return pick(2); }\nchar _license[] SEC("license") = "GPL";\n`,
      'lib/pick.c': `__attribute__((noinline)) int pick(int x) { return x; }\n`,
    });
    const a = await buildModule({ name: 'multi', dir, sources: ['main.c', 'lib/pick.c'] }, { cacheDir: join(root, 'cache') });
    expect(a.sources).toEqual(['main.c', 'lib/pick.c']);
    expect((await fsp.readFile(a.objectPath)).readUInt16LE(18)).toBe(247);
  });

  describe('refuses includes before clang runs', () => {
    const cases: Array<[string, string, number, RegExp]> = [
      ['absolute path', '#include <linux/bpf.h>\n#include "/etc/passwd"\n', 2, /absolute include path/],
      ['parent folder', '#include "../x.h"\n', 1, /leaves the module folder/],
      ['angle parent folder', '#include <linux/../../../etc/passwd>\n', 1, /leaves the module folder/],
      ['other system header', '#include <sys/socket.h>\n', 1, /not allowed/],
      ['computed include', '#define P "/etc/passwd"\n#include P\n', 2, /computed includes/],
      ['line splice', '#inc\\\nlude "/etc/passwd"\n', 1, /absolute include path/],
      ['directive after a lone \\r line end', 'int a;\r#include "/etc/passwd"\rint b;\r', 2, /absolute include path/],
      ['comment between # and include', '# /* x */ include_next </etc/shadow>\n', 1, /absolute include path/],
      ['digraph', '%:include "/etc/hostname"\n', 1, /absolute include path/],
      ['__has_include probe', '#if __has_include("/etc/shadow")\n#endif\n', 1, /absolute include path/],
      ['include_alias', '#pragma include_alias("a.h", "/etc/passwd")\n', 1, /include_alias/],
      ['missing local header', '#include "nothere.h"\n', 1, /does not resolve/],
    ];
    it.each(cases)('%s', async (_label, text, line, message) => {
      const dir = await moduleDir(`inc-${_label.replace(/\W+/g, '-')}`, { 'src/prog.c': text });
      const runsBefore = (await compilerRuns()).length;
      const e = await buildError(buildModule({ name: 'x', dir, sources: ['src/prog.c'] }, { cacheDir: join(root, 'cache'), ...counted() }));
      expect(e.code).toBe('include_refused');
      expect(e.file).toBe('src/prog.c');
      expect(e.line).toBe(line);
      expect(e.message).toMatch(message);
      expect((await compilerRuns()).length).toBe(runsBefore);
    });

    it('refuses a header that is a symlink out of the module', async () => {
      const dir = await moduleDir('symlink-header', { 'prog.c': '#include "evil.h"\n' });
      await fsp.symlink('/etc/passwd', join(dir, 'evil.h'));
      const e = await buildError(buildModule({ name: 'x', dir, sources: ['prog.c'] }, { cacheDir: join(root, 'cache') }));
      expect(e.code).toBe('include_refused');
      expect(e.message).toMatch(/symlink/);
    });
  });

  it('refuses a symlinked source and a source outside the module', async () => {
    const dir = await moduleDir('symlink-src', { 'real.c': 'int x;\n' });
    await fsp.symlink(join(dir, 'real.c'), join(dir, 'link.c'));
    const e1 = await buildError(buildModule({ name: 'x', dir, sources: ['link.c'] }, { cacheDir: join(root, 'cache') }));
    expect([e1.code, e1.field]).toEqual(['invalid_source', 'sources[0]']);
    const e2 = await buildError(buildModule({ name: 'x', dir, sources: ['../swap/prog.c'] }, { cacheDir: join(root, 'cache') }));
    expect(e2.code).toBe('invalid_source');
  });

  it('refuses inline assembly that reads files, even when macros and escapes spell it', async () => {
    const dir = await moduleDir('incbin', {
      'prog.c':
        '#define J(a, b) a##b\n#define S(x) #x\n#define T(x) S(x)\nasm(T(J(.inc, bin)) " \\"/etc/hostname\\"");\nasm("\\x2einc" "lude \\"/etc/passwd\\"");\nint x;\n',
    });
    const e = await buildError(buildModule({ name: 'x', dir, sources: ['prog.c'] }, { cacheDir: join(root, 'cache') }));
    expect(e.code).toBe('asm_refused');
    expect(e.message).toMatch(/\.incbin/);
  });

  it('reports a syntax error at the line of the module file, without temp paths', async () => {
    const dir = await moduleDir('syntax', {
      'src/prog.c': '#include <linux/bpf.h>\n#include "helpers.h"\n\nint f(void) {\n  return 1 +;\n}\n',
      'src/helpers.h': 'static inline int g(void) { return 0; }\n',
    });
    const e = await buildError(buildModule({ name: 'x', dir, sources: ['src/prog.c'] }, { cacheDir: join(root, 'cache') }));
    expect(e.code).toBe('compile_error');
    expect(e.file).toBe('src/prog.c');
    expect(e.line).toBe(5);
    expect(e.message).toMatch(/^src\/prog\.c:5:\d+: expected expression/);
    expect(e.diagnostics[0]).toMatchObject({ file: 'src/prog.c', line: 5, severity: 'error' });
    expect(JSON.stringify(e.toJSON())).not.toMatch(/ioplane-build-/);
  });

  it('names the header when the error is inside a local header', async () => {
    const dir = await moduleDir('hdr-error', { 'prog.c': '#include "inc/bad.h"\nint x;\n', 'inc/bad.h': '\nint y = ;\n' });
    const e = await buildError(buildModule({ name: 'x', dir, sources: ['prog.c'] }, { cacheDir: join(root, 'cache') }));
    expect([e.code, e.file, e.line]).toEqual(['compile_error', 'inc/bad.h', 2]);
  });

  it('kills clang when the time limit passes', async () => {
    // ~260k statements: several seconds of optimisation, far beyond the limit.
    const dir = await moduleDir('slow', {
      'prog.c':
        '#define A(x) x x x x\n#define B(x) A(A(A(x)))\n#define C(x) B(B(B(x)))\nvolatile int v;\nint f(int a) { C(v += a * v;) return v; }\n',
    });
    const started = Date.now();
    const e = await buildError(buildModule({ name: 'x', dir, sources: ['prog.c'] }, { cacheDir: join(root, 'cache'), timeoutMs: 300 }));
    expect(e.code).toBe('timeout');
    expect(e.field).toBe('timeoutMs');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('stops when the signal aborts', async () => {
    const dir = await moduleDir('abort', {
      'prog.c':
        '#define A(x) x x x x\n#define B(x) A(A(A(x)))\n#define C(x) B(B(B(x)))\nvolatile int v;\nint f(int a) { C(v += a * v;) return v; }\n',
    });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 200).unref();
    const e = await buildError(buildModule({ name: 'x', dir, sources: ['prog.c'] }, { cacheDir: join(root, 'cache'), signal: ac.signal }));
    expect(e.code).toBe('aborted');
  });
});

describe('importObject', () => {
  it('stores an ELF under its sha256 and refuses non-ELF bytes', async () => {
    const cacheDir = join(root, 'import-cache');
    const elf = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(60, 1)]);
    const a = importObject(elf, { cacheDir });
    expect(a.cached).toBe(false);
    expect(a.digest).toBe(require('node:crypto').createHash('sha256').update(elf).digest('hex'));
    expect(await fsp.readFile(a.objectPath)).toEqual(elf);
    expect(importObject(elf, { cacheDir }).cached).toBe(true);
    expect(() => importObject(Buffer.from('#!/bin/sh\n'), { cacheDir })).toThrow(/ELF magic/);
    expect((await fsp.readdir(cacheDir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });
});
