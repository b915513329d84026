import { mkdtempSync, promises as fsp, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { readBpfObject } from '../elf/bpf.programs';
import { BpfFunction, BpfObjectWithCode } from '../elf/elf.types';
import { AnalyzeOptions, HelperUse, InsnRef, MapFacts, MapUse, ObjectFacts, OpcodeUse, ProgramFacts, ProgramType } from './analysis.types';
import { BtfMapInfo, readBtfMaps, readBtfMapsAsync } from './btf.maps';
import { FunctionFacts, analyzeFunction, callTarget } from './function.analysis';
import { RegTag, mergeArgumentTags } from './register.state';
import { PSEUDO_CALL } from '../elf/bpf.insn';
import { REDIRECT_HELPERS } from './helper.table';
import { BPF_F_MMAPABLE, BPF_F_RDONLY_PROG, hostMapBytes, isPerCpu, mapTypeName } from './map.types';
import { sectionType, typeFromName } from './program.type';

const DATA_SECTION = /^\.(data|rodata|bss)(\..*)?$/;
/** libbpf's struct bpf_map_def: type, key_size, value_size, max_entries, map_flags. */
const LEGACY_MAP_DEF_BYTES = 20;
/** iproute2's struct bpf_elf_map: the five above, then id, pinning, inner_id, inner_idx (include/bpf_elf.h). */
const ELF_MAP_BYTES = 36;
const IPROUTE2_PINNING: Record<number, MapFacts['pinning']> = { 0: 'none', 1: 'object_ns', 2: 'global_ns' };

function mapFacts(
  def: Omit<MapFacts, 'typeName' | 'perCpu' | 'bytes' | 'hostBytes' | 'pinning'> & { pinning?: MapFacts['pinning'] },
  cpus: number,
): MapFacts {
  const perCpu = isPerCpu(def.type);
  const value = perCpu ? def.valueSize * cpus : def.valueSize;
  // Ring buffers size themselves in bytes through max_entries.
  const bytes = def.type === 27 || def.type === 31 ? def.maxEntries : def.maxEntries * (def.keySize + value);
  return {
    ...def,
    pinning: def.pinning ?? 'none',
    typeName: mapTypeName(def.type),
    perCpu,
    bytes,
    hostBytes: hostMapBytes(def.type, def.maxEntries, def.keySize, def.valueSize, cpus),
  };
}

function collectMaps(obj: BpfObjectWithCode, btf: BtfMapInfo[] | undefined, cpus: number, warnings: string[]): MapFacts[] {
  const out: MapFacts[] = [];
  const byName = new Map((btf ?? []).map((m) => [m.name, m]));
  for (const section of obj.sections.filter((s) => s.name === '.maps' || s.name === 'maps')) {
    const syms = obj.symbols.filter((s) => s.sectionIndex === section.index && s.type === 'OBJECT');
    // Old compilers leave st_size 0: then every definition is the section split evenly.
    const stride = syms.length ? Math.floor(section.size / syms.length) : 0;
    for (const sym of syms) {
      const b = byName.get(sym.name);
      const defBytes = sym.size || stride;
      if (section.name === '.maps' && b) {
        const { name, type, maxEntries, keySize, valueSize, mapFlags, keyType, valueType } = b;
        const pinning = b.pinning === 1 ? 'by_name' : b.pinning ? 'other' : 'none';
        out.push(
          mapFacts(
            { name, type, maxEntries, keySize, valueSize, mapFlags, keyType, valueType, internal: false, source: 'btf', pinning },
            cpus,
          ),
        );
      } else if (section.name === 'maps' && defBytes >= LEGACY_MAP_DEF_BYTES && sym.value + LEGACY_MAP_DEF_BYTES <= section.size) {
        const d = obj.sectionData(section);
        const u = (i: number) => d.readUInt32LE(sym.value + i * 4);
        const base = { name: sym.name, type: u(0), keySize: u(1), valueSize: u(2), maxEntries: u(3), mapFlags: u(4), internal: false };
        if (defBytes >= ELF_MAP_BYTES && sym.value + ELF_MAP_BYTES <= section.size) {
          out.push(mapFacts({ ...base, source: 'iproute2', pinning: IPROUTE2_PINNING[u(6)] ?? 'other' }, cpus));
        } else {
          out.push(mapFacts({ ...base, source: 'legacy' }, cpus));
        }
      } else {
        warnings.push(
          `map ${sym.name} in ${section.name} has no definition${section.name === '.maps' ? ' in BTF (compile with -g)' : ''}; its type and sizes are unknown`,
        );
        out.push(
          mapFacts(
            { name: sym.name, type: 0, maxEntries: 0, keySize: 0, valueSize: 0, mapFlags: 0, internal: false, source: 'none' },
            cpus,
          ),
        );
      }
    }
  }
  // libbpf's internal maps: one-entry ARRAYs, mmapable, .rodata also read-only for the program.
  for (const s of obj.sections.filter((s) => DATA_SECTION.test(s.name) && s.size > 0)) {
    const flags = BPF_F_MMAPABLE | (s.name.startsWith('.rodata') ? BPF_F_RDONLY_PROG : 0);
    out.push(
      mapFacts(
        { name: s.name, type: 2, maxEntries: 1, keySize: 4, valueSize: s.size, mapFlags: flags, internal: true, source: 'section' },
        cpus,
      ),
    );
  }
  return out;
}

function mergeUses<T extends { sites: InsnRef[] }, K>(lists: T[][], key: (t: T) => K): T[] {
  const out = new Map<K, T>();
  for (const t of lists.flat()) {
    const k = key(t);
    const prev = out.get(k);
    out.set(k, prev ? { ...prev, sites: [...prev.sites, ...t.sites] } : { ...t, sites: [...t.sites] });
  }
  return [...out.values()];
}

interface Typed {
  type: ProgramType;
  attachType: string | null;
  typeSource: ProgramFacts['typeSource'];
}

function fold(own: FunctionFacts, byName: Map<string, FunctionFacts>, typed: Typed): ProgramFacts {
  const reached: FunctionFacts[] = [];
  const visit = (f: FunctionFacts) => {
    if (reached.includes(f)) return;
    reached.push(f);
    for (const c of f.bpfCalls) {
      const callee = byName.get(c.target);
      if (callee) visit(callee);
    }
  };
  visit(own);
  // BPF forbids recursion; the guard only keeps a malformed object from looping here.
  const depth = (f: FunctionFacts, seen: Set<FunctionFacts>): number => {
    if (seen.has(f)) return 0;
    const next = new Set(seen).add(f);
    const callees = f.bpfCalls.map((c) => byName.get(c.target)).filter((c): c is FunctionFacts => !!c);
    return f.stackBytes + Math.max(0, ...callees.map((c) => depth(c, next)));
  };
  const helpers = mergeUses<HelperUse, number>(
    reached.map((f) => f.helpers),
    (h) => h.id,
  ).sort((a, b) => a.id - b.id);
  const { type } = typed;
  return {
    name: own.fn.name,
    section: own.fn.section,
    ...typed,
    functions: reached.map((f) => f.fn.name),
    instructions: own.instructions,
    totalInstructions: reached.reduce((n, f) => n + f.instructions, 0),
    stackBytes: own.stackBytes,
    maxStackDepth: depth(own, new Set()),
    helpers,
    bpfCalls: reached.flatMap((f) => f.bpfCalls),
    kfuncCalls: reached.flatMap((f) => f.kfuncCalls),
    maps: mergeUses<MapUse, string>(
      reached.map((f) => f.maps),
      (m) => m.name,
    ),
    backEdges: reached.flatMap((f) => f.backEdges),
    tailCalls: reached.flatMap((f) => f.tailCalls),
    atomics: reached.flatMap((f) => f.atomics),
    packetRewrites: reached.flatMap((f) => f.packetRewrites),
    opcodes: mergeUses<OpcodeUse, number>(
      reached.map((f) => f.opcodes),
      (o) => o.opcode,
    ).sort((a, b) => a.opcode - b.opcode),
    xdpReturns: type === 'xdp' ? { ...own.returns, redirects: helpers.some((h) => REDIRECT_HELPERS.includes(h.id)) } : null,
    helperCalls: reached.flatMap((f) => f.helperCalls),
    ctxAccesses: reached.flatMap((f) => f.ctxAccesses),
    aluSites: reached.flatMap((f) => f.aluSites),
    mapValueStores: reached.flatMap((f) => f.mapValueStores),
    frames: reached.map((f) => ({ function: f.fn.name, stackBytes: f.stackBytes, savesCalleeRegs: f.savesCalleeRegs })),
  };
}

/** The section's libbpf reading, unless the manifest or --type names the program's type. */
function typeOf(fn: BpfFunction, types: Record<string, string> | undefined, warnings: string[]): Typed {
  if (!fn.entry) return { type: 'subprogram', attachType: null, typeSource: 'section' };
  const s = sectionType(fn.section);
  // `*` types every program whose section libbpf does not know (an object given with --type alone).
  const given = types?.[fn.name] ?? types?.[fn.section] ?? (s.def ? undefined : types?.['*']);
  if (given !== undefined) {
    const t = typeFromName(given);
    if (t) return { type: t.type, attachType: t.attach, typeSource: 'given' };
    warnings.push(
      `type ${given} given for ${fn.name} is not a libbpf section type (e.g. xdp, xdp/devmap, tc, tcx/ingress, classifier); the section decides`,
    );
  }
  return { type: s.type, attachType: s.attach, typeSource: s.def ? 'section' : 'unknown' };
}

function factsOf(obj: BpfObjectWithCode, btf: BtfMapInfo[] | undefined, opts: AnalyzeOptions, warnings: string[]): ObjectFacts {
  const typed = new Map(obj.functions.map((fn) => [fn, typeOf(fn, opts.types, warnings)]));
  const done = new Map<BpfFunction, FunctionFacts>();
  // Callers before callees, so a subprogram starts from what its callers pass it (and their program type).
  const seeds = new Map<string, { args: RegTag[]; type: ProgramType }>();
  for (const fn of callersFirst(obj)) {
    const seed = fn.entry ? undefined : seeds.get(fn.name);
    const f = analyzeFunction(obj, fn, fn.entry ? typed.get(fn)!.type : (seed?.type ?? 'subprogram'), seed?.args);
    done.set(fn, f);
    const type = fn.entry ? typed.get(fn)!.type : (seed?.type ?? 'subprogram');
    for (const c of f.callArgs) {
      const prev = seeds.get(c.target);
      seeds.set(c.target, { args: mergeArgumentTags(prev?.args, c.args), type: prev && prev.type !== type ? 'subprogram' : type });
    }
  }
  const fns = obj.functions.map((fn) => done.get(fn)!);
  const byName = new Map(fns.map((f) => [f.fn.name, f]));
  const cpus = opts.cpus ?? 1;
  return {
    license: obj.license,
    programs: fns.filter((f) => f.fn.entry).map((f) => fold(f, byName, typed.get(f.fn)!)),
    subprograms: fns.filter((f) => !f.fn.entry).map((f) => fold(f, byName, typed.get(f.fn)!)),
    maps: collectMaps(obj, btf, cpus, warnings),
    btf: btf !== undefined,
    warnings,
  };
}

/** Functions ordered so every caller comes before its callees (Kahn's order on the BPF-to-BPF call graph). */
function callersFirst(obj: BpfObjectWithCode): BpfFunction[] {
  const byName = new Map(obj.functions.map((f) => [f.name, f]));
  const callees = new Map(
    obj.functions.map((fn) => [
      fn,
      [
        ...new Set(
          fn.insns
            .filter((i) => i.opcode === 0x85 && i.src === PSEUDO_CALL)
            .map((i) => callTarget(obj, fn, i))
            .filter((t) => t.kind === 'bpf')
            .map((t) => byName.get(t.target))
            .filter((f): f is BpfFunction => !!f && f !== fn),
        ),
      ],
    ]),
  );
  const indegree = new Map(obj.functions.map((f) => [f, 0]));
  for (const list of callees.values()) for (const c of list) indegree.set(c, indegree.get(c)! + 1);
  const ready = obj.functions.filter((f) => indegree.get(f) === 0);
  const out: BpfFunction[] = [];
  while (ready.length) {
    const f = ready.shift()!;
    out.push(f);
    for (const c of callees.get(f)!) {
      indegree.set(c, indegree.get(c)! - 1);
      if (indegree.get(c) === 0) ready.push(c);
    }
  }
  // BPF forbids recursion; a malformed object's cycle is analysed without seeds rather than dropped.
  return [...out, ...obj.functions.filter((f) => !out.includes(f))];
}

function btfFromFile(obj: BpfObjectWithCode, path: string, warnings: string[]): BtfMapInfo[] | undefined {
  if (!obj.section('.BTF')) {
    if (obj.section('.maps')) warnings.push('object has no .BTF section (compile with -g): .maps definitions cannot be decoded');
    return undefined;
  }
  try {
    return readBtfMaps(path);
  } catch (err) {
    warnings.push(`bpftool btf dump failed: ${(err as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

/** Static facts about every program in a BPF object held in memory. BTF comes from opts.btf or bpftool on a temp copy. */
export function analyzeObject(buf: Buffer, opts: AnalyzeOptions = {}): ObjectFacts {
  const obj = readBpfObject(buf);
  const warnings: string[] = [];
  let btf = opts.btf;
  if (!btf && obj.section('.BTF')) {
    const dir = mkdtempSync(join(tmpdir(), 'ioplane-btf-'));
    try {
      const path = join(dir, 'object.o');
      writeFileSync(path, buf);
      btf = btfFromFile(obj, path, warnings);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  } else if (!btf) {
    btf = btfFromFile(obj, '', warnings);
  }
  return factsOf(obj, btf, opts, warnings);
}

/**
 * analyzeObject without blocking the event loop while bpftool decodes BTF: an agent hosting many
 * devices keeps serving the others (and their flash timers) meanwhile. Same facts and warnings.
 */
export async function analyzeObjectAsync(buf: Buffer, opts: AnalyzeOptions = {}): Promise<ObjectFacts> {
  const obj = readBpfObject(buf);
  if (opts.btf || !obj.section('.BTF')) return analyzeObject(buf, opts);
  const warnings: string[] = [];
  const dir = await fsp.mkdtemp(join(tmpdir(), 'ioplane-btf-'));
  let btf: BtfMapInfo[] | undefined;
  try {
    const path = join(dir, 'object.o');
    await fsp.writeFile(path, buf);
    btf = await readBtfMapsAsync(path);
  } catch (err) {
    warnings.push(`bpftool btf dump failed: ${(err as Error).message.split('\n')[0]}`);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
  return factsOf(obj, btf, opts, warnings);
}

/** Same as analyzeObject, reading BTF straight from the file. */
export function analyzeFile(path: string, opts: AnalyzeOptions = {}): ObjectFacts {
  const obj = readBpfObject(readFileSync(path));
  const warnings: string[] = [];
  const btf = opts.btf ?? btfFromFile(obj, path, warnings);
  return factsOf(obj, btf, opts, warnings);
}
