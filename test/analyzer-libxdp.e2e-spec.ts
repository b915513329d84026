import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeFile, BPFFS_ROOT, kernelVerify, pinDirPrefix, sectionType, type ObjectFacts } from '@ioplane/compiler';
import { describeKernel } from '@ioplane/compiler/testing';
import { bpftoolLoadall } from './analyzer.fixture';
import { runEntry } from './ts-entry.fixture';

/**
 * Other people's objects: Debian's libxdp1 ships its BPF programs (the multi-program dispatcher,
 * xdpdump's fentry/fexit tracer, xdp-filter with pinned maps, the AF_XDP default program). The system
 * check installs libxdp1, so the objects must be there; each is compared with what llvm-objdump and
 * bpftool make of it.
 */
function libxdpObjects(): string[] {
  const r = spawnSync('dpkg', ['-L', 'libxdp1'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error('libxdp1 is not installed (the system check installs it): apt-get install -y libxdp1');
  const objs = r.stdout
    .split('\n')
    .filter((l) => /\/bpf\/[^/]+\.o$/.test(l) && existsSync(l))
    .sort();
  if (objs.length === 0) throw new Error('libxdp1 is installed but lists no BPF objects under /usr/lib/<arch>/bpf/');
  return objs;
}

interface SymbolRow {
  section: string;
  size: number;
  name: string;
}

/** FUNC symbols as `llvm-objdump -t` prints them: `0000 g F xdp 00000000000004a0 xdp_dispatcher`. */
function funcSymbols(obj: string): SymbolRow[] {
  const out: SymbolRow[] = [];
  for (const line of execFileSync('llvm-objdump', ['-t', obj], { encoding: 'utf8' }).split('\n')) {
    const m = /^[0-9a-f]+\s+\S+\s+F\s+(\S+)\s+([0-9a-f]+)\s+(\S+)$/.exec(line.trim());
    if (m) out.push({ section: m[1], size: parseInt(m[2], 16), name: m[3] });
  }
  return out;
}

/** Helper call slots per function from `llvm-objdump -d` (`call 25`; BPF-to-BPF calls print `call -N`/relocated `call -1`). */
function helperCalls(obj: string): Map<string, Array<{ insn: number; id: number }>> {
  const out = new Map<string, Array<{ insn: number; id: number }>>();
  let current: Array<{ insn: number; id: number }> | undefined;
  for (const line of execFileSync('llvm-objdump', ['-d', '-r', obj], { encoding: 'utf8' }).split('\n')) {
    const fn = /^[0-9a-f]{16} <([^>]+)>:$/.exec(line);
    if (fn && !/^LBB/.test(fn[1])) out.set(fn[1], (current = []));
    // Opcode 0x85 with src_reg 0 is a helper call; its imm (little-endian) is the helper id.
    const insn = /^\s+(\d+):\t85 00 00 00 ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2}) ([0-9a-f]{2})\t/.exec(line);
    if (insn && current) current.push({ insn: Number(insn[1]), id: parseInt(insn[5] + insn[4] + insn[3] + insn[2], 16) });
  }
  return out;
}

const leftovers = () => readdirSync(BPFFS_ROOT).filter((d) => d.startsWith(pinDirPrefix()));

describe("libxdp1's BPF objects, analysed", () => {
  const objects = libxdpObjects();
  const facts = new Map<string, ObjectFacts>();
  beforeAll(() => {
    for (const o of objects) facts.set(o, analyzeFile(o));
  });

  it('finds the objects the package ships', () => {
    expect(objects.length).toBeGreaterThanOrEqual(5);
    expect(objects.map((o) => o.split('/').pop())).toEqual(expect.arrayContaining(['xdp-dispatcher.o', 'xdpdump_bpf.o']));
  });

  it('lists every program, with slot counts equal to the symbol sizes / 8', () => {
    for (const o of objects) {
      const f = facts.get(o)!;
      const syms = funcSymbols(o);
      const entries = syms.filter((s) => s.section !== '.text');
      expect([o, f.programs.map((p) => p.name).sort()]).toEqual([o, entries.map((s) => s.name).sort()]);
      for (const p of f.programs) {
        const sym = entries.find((s) => s.name === p.name)!;
        expect([o, p.name, p.section, p.instructions]).toEqual([o, p.name, sym.section, sym.size / 8]);
        const reached = p.functions.map((fn) => syms.find((s) => s.name === fn)!.size / 8);
        expect([o, p.name, p.totalInstructions]).toEqual([o, p.name, reached.reduce((a, b) => a + b, 0)]);
        expect(p.type).toBe(sectionType(p.section).type);
      }
    }
    // The dispatcher: two programs in one section, calling ten global subprograms.
    const dispatcher = facts.get(objects.find((o) => o.endsWith('/xdp-dispatcher.o'))!)!;
    expect(dispatcher.programs.map((p) => [p.name, p.section, p.type])).toEqual([
      ['xdp_dispatcher', 'xdp', 'xdp'],
      ['xdp_pass', 'xdp', 'xdp'],
    ]);
    expect(dispatcher.programs[0].functions).toEqual(expect.arrayContaining(['prog0', 'prog9']));
    const dump = facts.get(objects.find((o) => o.endsWith('/xdpdump_bpf.o'))!)!;
    expect(dump.programs.map((p) => [p.name, p.type, p.attachType])).toEqual([
      ['trace_on_entry', 'tracing', 'TRACE_FENTRY'],
      ['trace_on_exit', 'tracing', 'TRACE_FEXIT'],
    ]);
  });

  it("has helper ids and slots equal to llvm-objdump's call instructions", () => {
    for (const o of objects) {
      const calls = helperCalls(o);
      for (const p of [...facts.get(o)!.programs, ...facts.get(o)!.subprograms]) {
        const own = p.helperCalls.filter((h) => h.function === p.name).map((h) => ({ insn: h.insn, id: h.helper }));
        expect([o, p.name, own]).toEqual([o, p.name, calls.get(p.name) ?? []]);
        const fromHelpers = p.helpers.flatMap((h) => h.sites.filter((s) => s.function === p.name).map((s) => ({ insn: s.insn, id: h.id })));
        expect([o, p.name, fromHelpers.sort((a, b) => a.insn - b.insn)]).toEqual([o, p.name, calls.get(p.name) ?? []]);
      }
    }
  });

  it('recognises the pinned maps (LIBBPF_PIN_BY_NAME) of xdp-filter without refusing them', () => {
    const filt = objects.filter((o) => /xdpfilt_/.test(o));
    expect(filt.length).toBeGreaterThan(0);
    for (const o of filt) {
      const stats = facts.get(o)!.maps.find((m) => m.name === 'xdp_stats_map')!;
      expect(stats).toMatchObject({ source: 'btf', pinning: 'by_name' });
    }
  });
});

describeKernel("libxdp1's BPF objects in the kernel", (itKernel) => {
  const objects = libxdpObjects();
  afterEach(() => {
    expect(leftovers()).toEqual([]);
  });

  itKernel(
    'gives every object the verdict bpftool prog loadall gives it with the program type, pins staying in the check',
    async () => {
      const verdicts: Array<[string, boolean]> = [];
      for (const o of objects) {
        const f = analyzeFile(o);
        const p = f.programs[0];
        const byName = f.maps.filter((m) => m.pinning === 'by_name').map((m) => join(BPFFS_ROOT, m.name));
        const before = byName.filter((path) => existsSync(path));
        const ours = await kernelVerify(o, { program: p.name });
        const reference = bpftoolLoadall(o, sectionType(p.section).def ? p.section : null);
        expect([o, ours.accepted]).toEqual([o, reference]);
        verdicts.push([o, ours.accepted]);
        if (ours.accepted) expect(ours.loadedPrograms.sort()).toEqual(f.programs.map((x) => x.name).sort());
        else expect(ours.verifierLog.length).toBeGreaterThan(0);
        // By-name pins went to the check's own folder, which is gone: none appeared at the bpffs root.
        expect(byName.filter((path) => existsSync(path))).toEqual(before);
      }
      // Most load; xdpdump's fentry/fexit programs name an attach target (`func`) no kernel has.
      expect(verdicts.filter(([, ok]) => ok).length).toBeGreaterThan(objects.length / 2);
      expect(verdicts.find(([o]) => o.endsWith('/xdpdump_bpf.o'))![1]).toBe(false);
      expect(verdicts.filter(([o]) => /xdpfilt_/.test(o)).every(([, ok]) => ok)).toBe(true);
    },
    300_000,
  );
});

describe('ioplane modules check <folder of objects> --json', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ioplane-objects-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prints one document per file and never stops the batch on a bad one', async () => {
    const objects = libxdpObjects();
    for (const o of objects) copyFileSync(o, join(dir, o.split('/').pop()!));
    writeFileSync(join(dir, 'broken.o'), Buffer.concat([Buffer.from('\x7fELF'), Buffer.alloc(20, 1)]));
    writeFileSync(join(dir, 'notes.txt'), 'not an object\n');
    const r = await runEntry(['apps/cli/src/main.ts', 'modules', 'check', dir, '--json', '--profile', 'netronome-agilio-cx-bpf-2.1'], {
      timeoutMs: 600_000,
    });
    const docs = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const files = readdirSync(dir).sort();
    expect(docs.map((d) => d.file)).toEqual(files.map((f) => join(dir, f)));
    const broken = docs.filter((d) => d.error);
    expect(broken.map((d) => [d.file.split('/').pop(), d.error.code])).toEqual([
      ['broken.o', expect.any(String)],
      ['notes.txt', expect.any(String)],
    ]);
    for (const d of broken) expect(d.error.message.length).toBeGreaterThan(5);
    for (const d of docs.filter((x) => !x.error)) {
      expect(d.programs.length).toBeGreaterThanOrEqual(1);
      expect(d.programs.filter((p: { deployed: boolean }) => p.deployed)).toHaveLength(1);
      expect(d.verdicts.map((v: { profileId: string }) => v.profileId)).toEqual(['netronome-agilio-cx-bpf-2.1']);
      for (const v of d.verdicts) for (const reason of v.reasons) expect(reason).toHaveProperty('rule');
    }
    const dispatcher = docs.find((d) => d.file.endsWith('/xdp-dispatcher.o'));
    expect(dispatcher.programs.map((p: { name: string; deployed: boolean }) => [p.name, p.deployed])).toEqual([
      ['xdp_dispatcher', true],
      ['xdp_pass', false],
    ]);
    // The bad files make the batch fail, after every file was checked.
    expect(r.code).toBe(1);
  }, 600_000);
});
