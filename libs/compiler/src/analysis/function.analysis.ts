import {
  BpfInsn,
  BPF_LD_IMM64,
  BPF_MODE_ATOMIC,
  PSEUDO_CALL,
  PSEUDO_KFUNC_CALL,
  accessBytes,
  atomicOp,
  isConditionalJump,
  isJump,
  jumpTarget,
  memMode,
  opcodeMnemonic,
} from '../elf/bpf.insn';
import { BpfFunction, BpfObjectWithCode, R_BPF } from '../elf/elf.types';
import {
  AluSite,
  AtomicSite,
  BackEdge,
  CallSite,
  CtxAccess,
  HelperCall,
  HelperUse,
  InsnRef,
  MapUse,
  OpcodeUse,
  PacketRewrite,
  ProgramType,
} from './analysis.types';
import { PACKET_RESIZE_HELPERS, PACKET_WRITE_HELPERS, TAIL_CALL_HELPER, helperName } from './helper.table';
import { PACKET_POINTER_CTX_OFFSETS } from './program.type';
import {
  RegTag,
  U32_MAX,
  argumentTags,
  kindOf,
  ldImm64Tag,
  mergeRegisters,
  scalarLow32,
  scalarMax,
  scalarValue,
  stepRegisters,
} from './register.state';

/** Facts about one function alone; programs fold in the functions they call. */
export interface FunctionFacts {
  fn: BpfFunction;
  instructions: number;
  stackBytes: number;
  helpers: HelperUse[];
  bpfCalls: CallSite[];
  kfuncCalls: CallSite[];
  maps: MapUse[];
  backEdges: BackEdge[];
  tailCalls: InsnRef[];
  atomics: AtomicSite[];
  packetRewrites: PacketRewrite[];
  opcodes: OpcodeUse[];
  /** Constant r0 values at exits, and whether some exit returns an unknown value. */
  returns: { constants: number[]; unknown: boolean };
  helperCalls: HelperCall[];
  ctxAccesses: CtxAccess[];
  aluSites: AluSite[];
  mapValueStores: InsnRef[];
  savesCalleeRegs: boolean;
  /** r1..r5 at each BPF-to-BPF call, for the callee's own analysis. */
  callArgs: Array<{ target: string; args: RegTag[] }>;
}

const DATA_SECTION = /^\.(data|rodata|bss)(\..*)?$/;

function push<T>(map: Map<string | number, T[]>, key: string | number, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Which map (or global-data section) an ld_imm64 slot loads, from its R_BPF_64_64 relocation. */
function mapReference(obj: BpfObjectWithCode, fn: BpfFunction, insn: BpfInsn): { map?: string; data?: string } | undefined {
  const rel = obj.relocations.get(fn.section)?.find((r) => r.offset === insn.index * 8 && r.type === R_BPF.R_BPF_64_64);
  if (!rel) return undefined;
  const sym = obj.symbols[rel.symbol];
  const section = obj.sections[sym.sectionIndex];
  if (!section || sym.sectionIndex === 0) return undefined;
  if (section.name === '.maps' || section.name === 'maps') return { map: sym.name };
  if (DATA_SECTION.test(section.name)) return { data: section.name };
  return undefined;
}

/** Resolve a call with src=1: relocated calls name a symbol; local ones are pc-relative within the section. */
export function callTarget(obj: BpfObjectWithCode, fn: BpfFunction, insn: BpfInsn): { kind: 'bpf' | 'kfunc'; target: string } {
  const rel = obj.relocations.get(fn.section)?.find((r) => r.offset === insn.index * 8);
  let sectionIndex = fn.sectionIndex;
  let slot = insn.index + insn.imm + 1;
  if (rel) {
    const sym = obj.symbols[rel.symbol];
    if (sym.sectionIndex === 0) return { kind: 'kfunc', target: sym.name };
    sectionIndex = sym.sectionIndex;
    slot = sym.value / 8 + insn.imm + 1;
  }
  const callee = obj.functions.find((f) => f.sectionIndex === sectionIndex && slot * 8 >= f.offset && slot * 8 < f.offset + f.size);
  return { kind: 'bpf', target: callee?.name ?? `${obj.sections[sectionIndex]?.name ?? '?'}+${slot}` };
}

const IMM_OPS: Array<((a: number, b: number) => number) | undefined> = [
  (a, b) => a + b,
  (a, b) => a - b,
  (a, b) => a * b,
  undefined,
  (a, b) => a | b,
  (a, b) => a & b,
  (a, b) => (b < 32 ? a << b : 0),
  (a, b) => (b < 32 ? a >>> b : 0),
  undefined,
  undefined,
  (a, b) => a ^ b,
];

/**
 * Forward dataflow of r0 to each exit: the constants it may hold (from mov-immediate, folded through
 * immediate ALU ops) plus whether some path leaves it unknown. Joining keeps both, so a program that
 * returns XDP_PASS early and a helper's result later reports {PASS} and unknown.
 */
function exitReturns(insns: BpfInsn[]): { constants: number[]; unknown: boolean } {
  const pos = new Map(insns.map((i, p) => [i.index, p]));
  type R0 = { consts: Set<number>; unknown: boolean };
  const state: Array<R0 | undefined> = new Array(insns.length);
  const constants = new Set<number>();
  let unknown = false;
  const work: number[] = [];
  const merge = (p: number | undefined, v: R0) => {
    if (p === undefined || p >= insns.length) return;
    const old = state[p];
    if (!old) {
      state[p] = { consts: new Set(v.consts), unknown: v.unknown };
      work.push(p);
      return;
    }
    const size = old.consts.size;
    v.consts.forEach((c) => old.consts.add(c));
    if (old.consts.size !== size || (v.unknown && !old.unknown)) {
      old.unknown ||= v.unknown;
      work.push(p);
    }
  };
  const TOP: R0 = { consts: new Set(), unknown: true };
  merge(0, TOP);
  while (work.length) {
    const p = work.pop()!;
    const insn = insns[p];
    let v: R0 = state[p]!;
    const op = insn.opcode;
    if (op === 0x95) {
      unknown ||= v.unknown;
      v.consts.forEach((c) => constants.add(c));
      continue;
    }
    if (op === 0xb7 || op === 0xb4) {
      if (insn.dst === 0) v = { consts: new Set([insn.imm]), unknown: false };
    } else if (insn.dst === 0 && (insn.cls === 'ALU' || insn.cls === 'ALU64') && !(op & 0x08) && IMM_OPS[op >> 4]) {
      // clang folds `return cond ? A : B` into shifts and masks on r0; follow them on each constant.
      const f = IMM_OPS[op >> 4]!;
      v = { consts: new Set([...v.consts].map((c) => f(c, insn.imm))), unknown: v.unknown };
    } else if (op === 0x85 || (insn.cls === 'LD' && op !== BPF_LD_IMM64)) {
      v = TOP;
    } else if (['ALU', 'ALU64', 'LDX'].includes(insn.cls) || op === BPF_LD_IMM64) {
      if (insn.dst === 0) v = TOP;
    } else if (insn.cls === 'STX' && memMode(insn) === BPF_MODE_ATOMIC && insn.imm === 0xf1) {
      v = TOP; // cmpxchg writes r0
    }
    if (isJump(insn)) {
      merge(pos.get(jumpTarget(insn)), v);
      if (isConditionalJump(insn) || op === 0xe5) merge(p + 1, v);
    } else {
      merge(p + 1, v);
    }
  }
  return { constants: [...constants].sort((a, b) => a - b), unknown };
}

/**
 * Facts of one function. `args` are what its callers pass in r1..r5 (all call sites agreeing), so a
 * subprogram knows a key pointer into its caller's stack or the ctx handed down to it.
 */
/** Where two paths meet: registers merged, and only the spill slots both paths agree on. */
function mergeState(a: { regs: RegTag[]; spills: Map<number, RegTag> }, b: { regs: RegTag[]; spills: Map<number, RegTag> }) {
  const spills = new Map<number, RegTag>();
  for (const [at, t] of a.spills) {
    if (!b.spills.has(at)) continue;
    const m = mergeRegisters([t], [b.spills.get(at)])[0];
    if (m) spills.set(at, m);
  }
  return { regs: mergeRegisters(a.regs, b.regs), spills };
}

export function analyzeFunction(obj: BpfObjectWithCode, fn: BpfFunction, programType: ProgramType, args?: RegTag[]): FunctionFacts {
  const ref = (insn: BpfInsn): InsnRef => ({ insn: insn.index, function: fn.name, section: fn.section });
  const helpers = new Map<string | number, InsnRef[]>();
  const maps = new Map<string | number, InsnRef[]>();
  const opcodes = new Map<string | number, InsnRef[]>();
  const facts: FunctionFacts = {
    fn,
    instructions: fn.size / 8,
    stackBytes: 0,
    helpers: [],
    bpfCalls: [],
    kfuncCalls: [],
    maps: [],
    backEdges: [],
    tailCalls: [],
    atomics: [],
    packetRewrites: [],
    opcodes: [],
    returns: { constants: [], unknown: false },
    helperCalls: [],
    ctxAccesses: [],
    aluSites: [],
    mapValueStores: [],
    savesCalleeRegs: false,
    callArgs: [],
  };
  const pktCtxOffsets = PACKET_POINTER_CTX_OFFSETS[programType] ?? [];
  // Register tracking in one pass: right for how clang addresses the stack (r10 + const), the packet
  // (ctx->data + ...) and map values (r0 of a lookup), including pointers spilled to 8-byte stack slots.
  const regs: RegTag[] = new Array(11).fill(undefined);
  let spills = new Map<number, RegTag>();
  const clobber = (off: number, size: number) => {
    for (const at of [...spills.keys()]) if (at < off + size && off < at + 8) spills.delete(at);
  };
  if (fn.entry) regs[1] = { kind: 'ctx' };
  else if (args) args.forEach((t, i) => (regs[i + 1] = t));
  regs[10] = { kind: 'stack', off: 0 };
  let minStack = 0;
  const touch = (off: number) => (minStack = Math.min(minStack, off));

  // Forward jumps carry their state to the target, where it meets the fall-through (if any); loops
  // are not iterated (a loop head keeps the state it was first entered with).
  const pending = new Map<number, { regs: RegTag[]; spills: Map<number, RegTag> }>();
  let fallsThrough = true;
  for (const insn of fn.insns) {
    const incoming = pending.get(insn.index);
    if (incoming || !fallsThrough) {
      const here = { regs: regs.slice(), spills };
      const entry = incoming
        ? fallsThrough
          ? mergeState(here, incoming)
          : incoming
        : { regs: new Array<RegTag>(11).fill(undefined), spills: new Map() };
      entry.regs[10] = { kind: 'stack', off: 0 };
      regs.splice(0, regs.length, ...entry.regs);
      spills = new Map(entry.spills);
      pending.delete(insn.index);
    }
    push(opcodes, insn.opcode, ref(insn));
    const op = insn.opcode;
    fallsThrough = op !== 0x95 && !(isJump(insn) && !isConditionalJump(insn) && op !== 0xe5);
    if (isJump(insn) && jumpTarget(insn) <= insn.index) facts.backEdges.push({ ...ref(insn), target: jumpTarget(insn) });
    if (isJump(insn) && jumpTarget(insn) > insn.index) {
      const at = jumpTarget(insn);
      const prev = pending.get(at);
      const now = { regs: regs.slice(), spills: new Map(spills) };
      pending.set(at, prev ? mergeState(prev, now) : now);
    }
    // As nfp's JIT decides whether a subprogram pushes r6..r9: any instruction naming them as dst.
    if (insn.dst >= 6 && insn.dst <= 9) facts.savesCalleeRegs = true;

    if (op === 0x85) {
      if (insn.src === 0) {
        push(helpers, insn.imm, ref(insn));
        facts.helperCalls.push({
          ...ref(insn),
          helper: insn.imm,
          args: [1, 2, 3, 4, 5].map((reg) => {
            const t = regs[reg];
            const value = scalarValue(t);
            const low32 = value === undefined ? scalarLow32(t) : undefined;
            return {
              reg,
              kind: kindOf(t),
              ...(t?.kind === 'stack' ? { stackOffset: t.off } : {}),
              ...(t?.kind === 'map_ptr' ? { map: t.map } : {}),
              ...(value !== undefined ? { value: value.toString() } : {}),
              ...(low32 !== undefined ? { low32: low32.toString() } : {}),
            };
          }),
        });
        if (insn.imm === TAIL_CALL_HELPER) facts.tailCalls.push(ref(insn));
        if (PACKET_RESIZE_HELPERS.includes(insn.imm) || PACKET_WRITE_HELPERS.includes(insn.imm)) {
          facts.packetRewrites.push({ ...ref(insn), kind: 'helper', helper: helperName(insn.imm) });
        }
      } else if (insn.src === PSEUDO_CALL) {
        const t = callTarget(obj, fn, insn);
        (t.kind === 'kfunc' ? facts.kfuncCalls : facts.bpfCalls).push({ ...ref(insn), target: t.target });
        if (t.kind === 'bpf') facts.callArgs.push({ target: t.target, args: argumentTags(regs) });
      } else if (insn.src === PSEUDO_KFUNC_CALL) {
        facts.kfuncCalls.push({ ...ref(insn), target: `btf_id#${insn.imm}` });
      }
      for (let r = 1; r <= 5; r++) regs[r] = undefined;
      regs[0] =
        insn.src !== 0
          ? undefined
          : insn.imm === 1
            ? { kind: 'map_value' }
            : insn.imm === 7
              ? { kind: 'scalar', max: U32_MAX }
              : { kind: 'scalar' };
      continue;
    }
    if (op === BPF_LD_IMM64) {
      const m = mapReference(obj, fn, insn);
      if (m) push(maps, m.map ?? m.data!, ref(insn));
      regs[insn.dst] = ldImm64Tag(insn, m);
      continue;
    }
    if ((insn.cls === 'ALU' || insn.cls === 'ALU64') && [0x20, 0x30, 0x90].includes(op & 0xf0)) {
      const reg = (op & 0x08) !== 0;
      const within = (t: RegTag) => {
        const m = scalarMax(t);
        return m !== undefined && m <= U32_MAX;
      };
      facts.aluSites.push({
        ...ref(insn),
        op: (op & 0xf0) === 0x20 ? 'mul' : (op & 0xf0) === 0x30 ? 'div' : 'mod',
        width: insn.cls === 'ALU' ? 32 : 64,
        source: reg ? 'reg' : 'imm',
        ...(reg ? {} : { imm: insn.imm }),
        dstWithinU32: within(regs[insn.dst]),
        srcWithinU32: reg ? within(regs[insn.src]) : insn.imm >= 0 || insn.cls === 'ALU',
        srcConstant: reg ? scalarValue(regs[insn.src]) !== undefined : true,
      });
    }
    switch (insn.cls) {
      case 'ALU64': {
        const t = regs[insn.dst];
        stepRegisters(regs, insn, pktCtxOffsets);
        const after = regs[insn.dst];
        if (t?.kind === 'stack' && after?.kind === 'stack' && !after.caller) touch(after.off);
        break;
      }
      case 'LDX': {
        const base = regs[insn.src];
        if (base?.kind === 'stack' && !base.caller) touch(base.off + insn.off);
        if (base?.kind === 'ctx') facts.ctxAccesses.push({ ...ref(insn), access: 'load', offset: insn.off, size: accessBytes(insn) });
        stepRegisters(regs, insn, pktCtxOffsets);
        // Filling a spilled pointer back.
        if (op === 0x79 && base?.kind === 'stack' && !base.caller && spills.has(base.off + insn.off))
          regs[insn.dst] = spills.get(base.off + insn.off);
        break;
      }
      case 'ST':
      case 'STX': {
        const base = regs[insn.dst];
        if (base?.kind === 'stack' && !base.caller) {
          touch(base.off + insn.off);
          clobber(base.off + insn.off, accessBytes(insn));
          if (op === 0x7b) spills.set(base.off + insn.off, regs[insn.src]);
        }
        if (insn.cls === 'STX' && memMode(insn) === BPF_MODE_ATOMIC) {
          const { op: name, fetch } = atomicOp(insn.imm);
          facts.atomics.push({ ...ref(insn), op: name, fetch, width: (op & 0x18) === 0x18 ? 64 : 32, opcode: op, target: kindOf(base) });
        } else if (base?.kind === 'packet') {
          facts.packetRewrites.push({ ...ref(insn), kind: 'store' });
        } else if (base?.kind === 'map_value') {
          facts.mapValueStores.push(ref(insn));
        } else if (base?.kind === 'ctx') {
          facts.ctxAccesses.push({ ...ref(insn), access: 'store', offset: insn.off, size: accessBytes(insn) });
        }
        stepRegisters(regs, insn, pktCtxOffsets);
        break;
      }
      default:
        stepRegisters(regs, insn, pktCtxOffsets);
    }
  }
  facts.stackBytes = 0 - minStack; // not -minStack: that is -0 for a function without a frame
  facts.helpers = [...helpers].map(([id, sites]) => ({ id: id as number, name: helperName(id as number), sites }));
  facts.maps = [...maps].map(([name, sites]) => ({ name: name as string, sites }));
  facts.opcodes = [...opcodes]
    .sort(([a], [b]) => (a as number) - (b as number))
    .map(([opcode, sites]) => ({
      opcode: opcode as number,
      mnemonic: opcodeMnemonic(opcode as number, fn.insns.find((i) => i.opcode === opcode)!.imm),
      sites,
    }));
  if (fn.entry) facts.returns = exitReturns(fn.insns);
  return facts;
}
