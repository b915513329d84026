import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { buildModule } from './module.builder';
import { buildError, privateTmpdir, writeModuleDir, type PrivateTmpdir } from '../testing';
import { bindsForPaths, bpftoolCommand, bwrapArgs, runSandboxed, sandboxAvailable } from './os.sandbox';

let dirs: PrivateTmpdir;
let root: string;
let tmpRoot: string;
let n = 0;

const moduleDir = (files: Record<string, string>) => writeModuleDir(join(root, `m${n++}`), files);

beforeAll(async () => {
  // Builds make their folders under TMPDIR: a private one shows that each build removes its own.
  dirs = await privateTmpdir('ioplane-sandbox-spec-');
  ({ root, tmp: tmpRoot } = dirs);
});

afterAll(() => dirs?.restore());

afterEach(async () => {
  expect(await fsp.readdir(tmpRoot)).toEqual([]);
});

const cacheDir = () => join(root, `cache${n++}`);

describe('the build sandbox', () => {
  it('shows a tool /usr read-only, its own folder, an empty /tmp and a bare environment, as nobody', async () => {
    expect(await sandboxAvailable('build')).toEqual({ ok: true });
    const dir = await fsp.mkdtemp(join(root, 'box-'));
    if (process.getuid?.() === 0) await fsp.chown(dir, 65534, 65534);
    const sh = (script: string) => runSandboxed({ kind: 'build', dir }, '/bin/sh', ['-c', script], { timeoutMs: 10_000 });
    const ls = await sh('ls -A / | sort | tr "\\n" " "; echo; find /tmp /usr/local -mindepth 1 | wc -l; env | sort | tr "\\n" " "');
    expect(ls.code).toBe(0);
    const [top, emptyCount, env] = ls.stdout.split('\n');
    expect(
      top
        .trim()
        .split(' ')
        .filter((e) => !/^(lib32|libx32|lib64)$/.test(e)),
    ).toEqual(['bin', 'build', 'lib', 'sbin', 'tmp', 'usr']);
    expect(emptyCount.trim()).toBe('0');
    expect(
      env
        .trim()
        .split(' ')
        .map((e) => e.split('=')[0]),
    ).toEqual(['LC_ALL', 'LLVM_DISABLE_SYMBOLIZATION', 'PATH', 'PWD', 'TMPDIR']);
    const denied = await sh(
      'test -e /etc/passwd || test -e /root || test -e /proc/self || test -e /work; echo $?; touch /usr/x 2>/tmp/e; echo $?; touch /build/ok && echo wrote',
    );
    expect(denied.stdout.split('\n').slice(0, 3)).toEqual(['1', '1', 'wrote']);
    if (process.getuid?.() === 0) expect((await sh('id -u')).stdout.trim()).toBe('65534');
    await fsp.rm(dir, { recursive: true, force: true });
  });

  it('refuses a preprocessor bomb at the output cap, reading the output as a stream', async () => {
    const dir = await moduleDir({
      'bomb.c':
        '#define A "0123456789012345678901234"\n#define B A A A A A A A A A A\n#define C B B B B B B B B B B\n#define D C C C C C C C C C C\n#define E D D D D D D D D D D\n#define F E E E E E E E E E E\nconst char *s[] = { F F F F F F F F F F };\n',
    });
    const e = await buildError(buildModule({ name: 'bomb', dir, sources: ['bomb.c'] }, { cacheDir: cacheDir(), preprocessedMb: 1 }));
    expect([e.code, e.field]).toEqual(['resource_limit', 'preprocessedMb']);
    expect(e.message).toMatch(/preprocessing bomb\.c produced more than the preprocessor output cap \(preprocessedMb=1\)/);
  });

  it('stops a compile at the CPU time cap and names it', async () => {
    // ~260k statements: several seconds of optimisation.
    const dir = await moduleDir({
      'slow.c':
        '#define A(x) x x x x\n#define B(x) A(A(A(x)))\n#define C(x) B(B(B(x)))\nvolatile int v;\nint f(int a) { C(v += a * v;) return v; }\n',
    });
    const e = await buildError(
      buildModule({ name: 'slow', dir, sources: ['slow.c'] }, { cacheDir: cacheDir(), cpuSeconds: 1, memoryMb: 4096, timeoutMs: 60_000 }),
    );
    expect([e.code, e.field]).toEqual(['resource_limit', 'cpuSeconds']);
    expect(e.message).toMatch(/compiling slow\.c was stopped by the CPU time cap \(cpuSeconds=1\)/);
  });

  it('stops a compile at the output file size cap and names it', async () => {
    const dir = await moduleDir({ 'big.c': 'char big[4 << 20] = { 1 };\n' });
    const e = await buildError(buildModule({ name: 'big', dir, sources: ['big.c'] }, { cacheDir: cacheDir(), fileSizeMb: 1 }));
    expect([e.code, e.field]).toEqual(['resource_limit', 'fileSizeMb']);
    expect(e.message).toMatch(/the output file size cap \(fileSizeMb=1\)/);
  });

  it('names the memory cap when clang runs out of address space', async () => {
    const dir = await moduleDir({
      'slow.c':
        '#define A(x) x x x x\n#define B(x) A(A(A(x)))\n#define C(x) B(B(B(x)))\nvolatile int v;\nint f(int a) { C(v += a * v;) return v; }\n',
    });
    const e = await buildError(
      buildModule({ name: 'slow', dir, sources: ['slow.c'] }, { cacheDir: cacheDir(), memoryMb: 400, timeoutMs: 60_000 }),
    );
    expect([e.code, e.field]).toEqual(['resource_limit', 'memoryMb']);
  });

  describe('where bwrap cannot run', () => {
    const missing = { bwrap: join(root ?? '/nonexistent', 'no-such-bwrap') };
    const PASS =
      '#include <linux/bpf.h>\n#include <bpf/bpf_helpers.h>\nSEC("xdp") int p(struct xdp_md *c) { return XDP_PASS; }\nchar _license[] SEC("license") = "GPL";\n';

    it('refuses sources that did not ship with ioplane, naming the reason, and builds nothing', async () => {
      const dir = await moduleDir({ 'p.c': PASS });
      const cache = cacheDir();
      const e = await buildError(
        buildModule({ name: 'up', dir, sources: ['p.c'] }, { cacheDir: cache, sandbox: { bwrap: '/nonexistent/bwrap' } }),
      );
      expect([e.code, e.field]).toEqual(['sandbox_unavailable', 'sandbox']);
      expect(e.message).toMatch(
        /refusing to build up without the build sandbox: bwrap \(bubblewrap\) is not installed at \/nonexistent\/bwrap/,
      );
      expect(await fsp.readdir(cache).catch(() => [])).toEqual([]);
    });

    it('builds a shipped module without it and says so in a log line', async () => {
      const dir = await moduleDir({ 'p.c': PASS });
      const lines: string[] = [];
      const a = await buildModule(
        { name: 'shipped', dir, sources: ['p.c'], shipped: true },
        { cacheDir: cacheDir(), sandbox: { bwrap: '/nonexistent/bwrap' }, log: (l) => lines.push(l) },
      );
      expect(a.cached).toBe(false);
      expect(lines).toEqual([
        expect.stringMatching(/building shipped module shipped WITHOUT the build sandbox \(bwrap \(bubblewrap\) is not installed/),
      ]);
    });

    it('probes a bwrap that exists but cannot make the sandbox', async () => {
      // /bin/false stands for a bwrap the kernel refuses (user namespaces off): it exists, and fails.
      const a = await sandboxAvailable('build', { bwrap: '/bin/false' });
      expect(a).toEqual({ ok: false, reason: expect.stringMatching(/bwrap cannot create the sandbox here .*user namespaces/) });
      void missing;
    });
  });

  it('refuses a source whose name starts with a dash', async () => {
    const dir = await moduleDir({ '-fplugin=x.c': 'int x;\n' });
    const e = await buildError(buildModule({ name: 'dash', dir, sources: ['-fplugin=x.c'] }, { cacheDir: cacheDir() }));
    expect([e.code, e.field]).toEqual(['invalid_source', 'sources[0]']);
  });
});

describe('bpftool in the sandbox', () => {
  it('binds only the paths on its command line: files read-only, an output folder and the pin folder writable', async () => {
    const obj = join(root, 'obj.o');
    await fsp.writeFile(obj, 'x');
    const binds = bindsForPaths(
      [
        'prog',
        'loadall',
        obj,
        '/sys/fs/bpf/ioplane-1-ab/progs',
        'pinmaps',
        '/sys/fs/bpf/ioplane-1-ab/maps',
        'data_out',
        join(root, 'out.bin'),
        'type',
        'xdp',
      ],
      '/sys/fs/bpf',
    );
    expect(binds).toHaveLength(3);
    expect(binds).toEqual(
      expect.arrayContaining([
        { path: root, writable: true },
        { path: obj, writable: false },
        { path: '/sys/fs/bpf/ioplane-1-ab', writable: true },
      ]),
    );
    // A folder bound after a file inside it would hide the file's bind.
    expect(binds.findIndex((b) => b.path === root)).toBeLessThan(binds.findIndex((b) => b.path === obj));
  });

  it('keeps only the BPF capabilities for kernel commands and none for a BTF dump', () => {
    const load = bpftoolCommand('/usr/sbin/bpftool', ['prog', 'show', 'pinned', '/sys/fs/bpf/x/p'], '/sys/fs/bpf');
    const dump = bpftoolCommand('/usr/sbin/bpftool', ['btf', 'dump', 'file', '/nonexistent-dir/o.o'], '/sys/fs/bpf');
    if (process.getuid?.() !== 0) return; // the kernel profile exists only for root
    expect(load.args).toEqual(expect.arrayContaining(['--cap-drop', 'ALL', '--cap-add', 'CAP_BPF', '--unshare-net', '--proc']));
    expect(dump.args).toEqual(expect.arrayContaining(['--cap-drop', 'ALL', '--unshare-net']));
    expect(dump.args).not.toContain('--cap-add');
    // prlimit (the caps), then bwrap, then bpftool after bwrap's own `--`.
    expect(dump.file).toMatch(/prlimit$/);
    expect(dump.args).toEqual(expect.arrayContaining(['--core=0', '--cpu=20:22']));
    expect(dump.args[dump.args.lastIndexOf('--') + 1]).toBe('/usr/sbin/bpftool');
  });
});

describe('bwrap versions', () => {
  it('leaves out --disable-userns and --size for a bwrap older than 0.8, keeping everything else', async () => {
    const old = join(root, 'bwrap-0.6');
    await fsp.writeFile(old, '#!/bin/sh\necho "bubblewrap 0.6.1"\n', { mode: 0o755 });
    const a = bwrapArgs({ kind: 'build', dir: '/x' }, old).args;
    expect(a).not.toContain('--disable-userns');
    expect(a).not.toContain('--size');
    expect(a).toEqual(expect.arrayContaining(['--unshare-all', '--unshare-user', '--new-session', '--die-with-parent', '--clearenv']));
    expect(bwrapArgs({ kind: 'build', dir: '/x' }).args).toEqual(expect.arrayContaining(['--disable-userns', '--size']));
  });
});
