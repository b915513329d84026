import { BpfFixtures, Fixture, ROUTER_C, STRIPPER_C } from '../elf/bpf.fixtures';
import { ObjectFacts } from './analysis.types';
import { decodeBtfMaps, dumpBtf } from './btf.maps';
import { helperName } from './helper.table';
import { analyzeFile, analyzeObject } from './object.analyzer';
import { programTypeOf, sectionType } from './program.type';

/** Slot indexes of llvm-objdump lines matching a pattern. */
function lines(fx: Fixture, fn: string, re: RegExp): number[] {
  return fx.disasm
    .get(fn)!
    .filter((l) => re.test(l.text))
    .map((l) => l.index);
}

/** 8-byte slots of a function as llvm-objdump numbers them (an `ll` load takes two). */
function slots(fx: Fixture, fn: string): number {
  const l = fx.disasm.get(fn)!;
  return l[l.length - 1].index - l[0].index + (/ ll$/.test(l[l.length - 1].text) ? 2 : 1);
}

/** Deepest `(r10 - N)` llvm-objdump shows in a function. */
function objdumpStack(fx: Fixture, fn: string): number {
  return Math.max(0, ...fx.disasm.get(fn)!.map((l) => Number(/\(r10 - (\d+)\)/.exec(l.text)?.[1] ?? 0)));
}

describe('analyzeObject / analyzeFile', () => {
  const fixtures = new BpfFixtures();
  let router: Fixture;
  let stripper: Fixture;
  let routerFacts: ObjectFacts;
  let stripperFacts: ObjectFacts;

  beforeAll(() => {
    router = fixtures.compile('router', ROUTER_C);
    stripper = fixtures.compile('stripper', STRIPPER_C);
    routerFacts = analyzeFile(router.path);
    stripperFacts = analyzeObject(stripper.buf);
  });
  afterAll(() => fixtures.cleanup());

  it('finds helpers, calls, the loop and the stack of the router', () => {
    const route = routerFacts.programs.find((p) => p.name === 'route')!;
    expect(routerFacts.programs.map((p) => p.name)).toEqual(['route']);
    expect(route).toMatchObject({ section: 'xdp', type: 'xdp', functions: ['route', 'mix'] });
    expect(route.helpers.map((h) => [h.id, h.name])).toEqual([
      [1, 'bpf_map_lookup_elem'],
      [23, 'bpf_redirect'],
      [69, 'bpf_fib_lookup'],
    ]);
    expect(route.helpers.find((h) => h.id === 69)!.sites.map((s) => s.insn)).toEqual(lines(router, 'route', /^call 69$/));
    expect(route.helpers.find((h) => h.id === 1)!.sites).toHaveLength(2);

    expect(route.instructions).toBe(slots(router, 'route'));
    expect(route.instructions).toBeGreaterThan(router.disasm.get('route')!.length); // ld_imm64 counts twice
    expect(route.totalInstructions).toBe(slots(router, 'route') + slots(router, 'mix'));

    expect(route.bpfCalls).toEqual([{ insn: lines(router, 'route', /^call -1$/)[0], function: 'route', section: 'xdp', target: 'mix' }]);
    expect(route.kfuncCalls).toEqual([]);
    expect(route.tailCalls).toEqual([]);

    const loops = lines(router, 'mix', /goto -\d+/);
    expect(loops.length).toBeGreaterThan(0);
    expect(route.backEdges.map((b) => [b.function, b.insn])).toEqual(loops.map((i) => ['mix', i]));
    expect(route.backEdges.every((b) => b.target <= b.insn)).toBe(true);

    expect(route.stackBytes).toBe(objdumpStack(router, 'route'));
    expect(route.stackBytes).toBeGreaterThanOrEqual(64); // struct bpf_fib_lookup
    expect(route.maxStackDepth).toBe(route.stackBytes + objdumpStack(router, 'mix'));

    const mod = route.opcodes.find((o) => o.opcode === 0x9f)!;
    expect(mod.mnemonic).toBe('mod64 reg');
    expect(mod.sites.map((s) => s.insn)).toEqual(lines(router, 'route', /<unknown>/));
    expect(route.atomics).toHaveLength(2);
    expect(route.atomics.every((a) => a.op === 'add' && !a.fetch && a.width === 64 && a.opcode === 0xdb)).toBe(true);
    expect(route.xdpReturns).toEqual({ constants: [2], unknown: true, redirects: true });
    expect(route.maps.map((m) => m.name).sort()).toEqual(['.data', '.rodata', 'flows', 'routes']);
  });

  it('decodes BTF map definitions and global data maps', () => {
    const byName = Object.fromEntries(routerFacts.maps.map((m) => [m.name, m]));
    expect(routerFacts.btf).toBe(true);
    expect(byName.routes).toMatchObject({
      type: 11,
      typeName: 'LPM_TRIE',
      maxEntries: 1024,
      keySize: 8,
      valueSize: 8,
      mapFlags: 1,
      keyType: 'struct lpm_key',
      valueType: '__u64',
      source: 'btf',
      bytes: 1024 * 16,
    });
    expect(byName.flows).toMatchObject({ type: 9, typeName: 'LRU_HASH', maxEntries: 65536, keySize: 4, valueSize: 8, mapFlags: 0 });
    expect(byName['.data']).toMatchObject({ type: 2, maxEntries: 1, keySize: 4, valueSize: 4, internal: true, mapFlags: 0x400 });
    expect(byName['.rodata']).toMatchObject({ internal: true, mapFlags: 0x480 });
    expect(byName.flows.hostBytes).toBeGreaterThan(byName.flows.bytes);
  });

  it('reads the offloadable program and tells apart programs sharing a section', () => {
    expect(stripperFacts.programs.map((p) => [p.name, p.section, p.type])).toEqual([
      ['strip', 'xdp', 'xdp'],
      ['acl', 'xdp', 'xdp'],
      ['mark', 'tc', 'sched_cls'],
    ]);
    const strip = stripperFacts.programs[0];
    expect(strip.helpers.map((h) => h.id)).toEqual([1, 44]);
    expect(strip.packetRewrites).toEqual([
      { insn: lines(stripper, 'strip', /^call 44$/)[0], function: 'strip', section: 'xdp', kind: 'helper', helper: 'bpf_xdp_adjust_head' },
    ]);
    expect(strip.backEdges).toEqual([]);
    expect(strip.bpfCalls).toEqual([]);
    expect(strip.stackBytes).toBe(objdumpStack(stripper, 'strip'));
    expect(strip.instructions).toBe(slots(stripper, 'strip'));
    expect(strip.xdpReturns).toEqual({ constants: [0, 1, 2], unknown: false, redirects: false });

    const acl = stripperFacts.programs[1];
    expect(acl.instructions).toBe(slots(stripper, 'acl'));
    expect(acl.maps.map((m) => m.name)).toEqual(['allow']);
    expect(acl.maps[0].sites[0].insn).toBeGreaterThanOrEqual(stripper.disasm.get('acl')![0].index);
    expect(acl.xdpReturns?.constants).toEqual([1, 2]);

    const mark = stripperFacts.programs[2];
    expect(mark.packetRewrites).toEqual([
      { insn: lines(stripper, 'mark', /^\*\(u8 \*\)/)[0], function: 'mark', section: 'tc', kind: 'store' },
    ]);
    expect(mark.xdpReturns).toBeNull();

    const maps = Object.fromEntries(stripperFacts.maps.map((m) => [m.name, m]));
    expect(maps.allow).toMatchObject({ type: 1, maxEntries: 4096, keySize: 4, valueSize: 8, mapFlags: 0 });
    expect(maps.stats).toMatchObject({ type: 2, maxEntries: 4, keySize: 4, valueSize: 8 });
  });

  it('gives the same facts from a buffer, a file, or pre-decoded BTF', () => {
    const btf = decodeBtfMaps(dumpBtf(router.path));
    expect(analyzeObject(router.buf)).toEqual(routerFacts);
    expect(analyzeObject(router.buf, { btf })).toEqual(routerFacts);
  });

  it('without BTF keeps the map references and says the definitions are unknown', () => {
    const facts = analyzeObject(router.buf, { btf: [] });
    expect(facts.maps.find((m) => m.name === 'routes')).toMatchObject({ source: 'none', type: 0 });
    expect(facts.warnings.join('\n')).toMatch(/map routes .* has no definition/);
  });

  it('names helpers and program types', () => {
    expect(helperName(12)).toBe('bpf_tail_call');
    expect(helperName(93)).toBe('bpf_spin_lock');
    expect(helperName(130)).toBe('bpf_ringbuf_output');
    expect(helperName(190)).toBe('bpf_xdp_store_bytes');
    expect(helperName(9999)).toBe('helper#9999');
    expect(
      [
        'xdp',
        'xdp.frags',
        'xdp/devmap',
        'tc',
        'tc/ingress',
        'classifier',
        'kprobe/sys_open',
        'tp_btf/x',
        '.text',
        'weird',
        'xdp/foo',
        'xdp_prog',
      ].map(programTypeOf),
    ).toEqual([
      'xdp',
      'xdp',
      'xdp',
      'sched_cls',
      'sched_cls',
      'sched_cls',
      'kprobe',
      'tracing',
      'subprogram',
      'unknown',
      'unknown',
      'unknown',
    ]);
    expect(
      ['xdp', 'xdp.frags', 'xdp/devmap', 'xdp.frags/cpumap', 'tcx/ingress', 'tc', 'fentry/func', 'fexit/func'].map(
        (s) => sectionType(s).attach,
      ),
    ).toEqual(['XDP', 'XDP', 'XDP_DEVMAP', 'XDP_CPUMAP', 'TCX_INGRESS', null, 'TRACE_FENTRY', 'TRACE_FEXIT']);
  });
});
