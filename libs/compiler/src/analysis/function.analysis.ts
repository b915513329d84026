import {
  BpfInsn, BPF_LD_IMM64, BPF_MODE_ATOMIC, PSEUDO_CALL, PSEUDO_KFUNC_CALL, atomicOp, isConditionalJump, isJump, jumpTarget,
  memMode, opcodeMnemonic,
} from '../elf/bpf.insn';
import { BpfFunction, BpfObjectWithCode, R_BPF } from '../elf/elf.types';
import {
  AtomicSite, BackEdge, CallSite, HelperUse, InsnRef, MapUse, OpcodeUse, PacketRewrite, ProgramType,
} from './analysis.types';
import { PACKET_RESIZE_HELPERS, PACKET_WRITE_HELPERS, TAIL_CALL_HELPER, helperName } from './helper.table';
import { PACKET_POINTER_CTX_OFFSETS } from './program.type';

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
}

type RegTag = { kind: 'ctx' } | { kind: 'pkt' } | { kind: 'fp'; off: number } | undefined;

const DATA_SECTION = /^\.(data|rodata|bss)(\..*)?$/;

function push<T>(map: Map<string | number, T[]>, key: string | number, value: T): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

/** Which map an ld_imm64 slot loads, from its R_BPF_64_64 relocation. */
function mapReference(obj: BpfObjectWithCode, fn: BpfFunction, insn: BpfInsn): string | undefined {
  const rel = obj.relocations.get(fn.section)?.find((r) => r.offset === insn.index * 8 && r.type === R_BPF.R_BPF_64_64);
  if (!rel) return undefined;
  const sym = obj.symbols[rel.symbol];
  const section = obj.sections[sym.sectionIndex];
  if (!section || sym.sectionIndex === 0) return undefined;
  if (section.name === '.maps' || section.name === 'maps') return sym.name;
  if (DATA_SECTION.test(section.name)) return section.name;
  return undefined;
}

/** Resolve a call with src=1: relocated calls name a symbol; local ones are pc-relative within the section. */
function callTarget(obj: BpfObjectWithCode, fn: BpfFunction, insn: BpfInsn): { kind: 'bpf' | 'kfunc'; target: string } {
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
  (a, b) => a + b, (a, b) => a - b, (a, b) => a * b, undefined, (a, b) => a | b, (a, b) => a & b,
  (a, b) => (b < 32 ? a << b : 0), (a, b) => (b < 32 ? a >>> b : 0), undefined, undefined, (a, b) => a ^ b,
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

export function analyzeFunction(obj: BpfObjectWithCode, fn: BpfFunction, programType: ProgramType): FunctionFacts {
  const ref = (insn: BpfInsn): InsnRef => ({ insn: insn.index, function: fn.name, section: fn.section });
  const helpers = new Map<string | number, InsnRef[]>();
  const maps = new Map<string | number, InsnRef[]>();
  const opcodes = new Map<string | number, InsnRef[]>();
  const facts: FunctionFacts = {
    fn, instructions: fn.insns.length, stackBytes: 0, helpers: [], bpfCalls: [], kfuncCalls: [], maps: [], backEdges: [],
    tailCalls: [], atomics: [], packetRewrites: [], opcodes: [], returns: { constants: [], unknown: false },
  };
  const pktCtxOffsets = PACKET_POINTER_CTX_OFFSETS[programType] ?? [];
  // Linear register tagging: a heuristic (it ignores control flow) that is right for how clang addresses
  // the stack (r10 + const) and packet (ctx->data + ...).
  const tags: RegTag[] = new Array(11).fill(undefined);
  if (fn.entry) tags[1] = { kind: 'ctx' };
  tags[10] = { kind: 'fp', off: 0 };
  let minStack = 0;
  const touch = (off: number) => (minStack = Math.min(minStack, off));

  for (const insn of fn.insns) {
    push(opcodes, insn.opcode, ref(insn));
    const op = insn.opcode;
    if (isJump(insn) && jumpTarget(insn) <= insn.index) facts.backEdges.push({ ...ref(insn), target: jumpTarget(insn) });

    if (op === 0x85) {
      if (insn.src === 0) {
        push(helpers, insn.imm, ref(insn));
        if (insn.imm === TAIL_CALL_HELPER) facts.tailCalls.push(ref(insn));
        if (PACKET_RESIZE_HELPERS.includes(insn.imm) || PACKET_WRITE_HELPERS.includes(insn.imm)) {
          facts.packetRewrites.push({ ...ref(insn), kind: 'helper', helper: helperName(insn.imm) });
        }
      } else if (insn.src === PSEUDO_CALL) {
        const t = callTarget(obj, fn, insn);
        (t.kind === 'kfunc' ? facts.kfuncCalls : facts.bpfCalls).push({ ...ref(insn), target: t.target });
      } else if (insn.src === PSEUDO_KFUNC_CALL) {
        facts.kfuncCalls.push({ ...ref(insn), target: `btf_id#${insn.imm}` });
      }
      for (let r = 0; r <= 5; r++) tags[r] = undefined;
      continue;
    }
    if (op === BPF_LD_IMM64) {
      const m = mapReference(obj, fn, insn);
      if (m) push(maps, m, ref(insn));
      tags[insn.dst] = undefined;
      continue;
    }
    switch (insn.cls) {
      case 'ALU64':
      case 'ALU': {
        const t = tags[insn.dst];
        if (op === 0xbf) tags[insn.dst] = tags[insn.src];
        else if ((op === 0x07 || op === 0x17) && t?.kind === 'fp') {
          const off = t.off + (op === 0x07 ? insn.imm : -insn.imm);
          tags[insn.dst] = { kind: 'fp', off };
          touch(off);
        } else if ((op === 0x07 || op === 0x0f) && t?.kind === 'pkt') tags[insn.dst] = t;
        else if (op === 0x0f && tags[insn.src]?.kind === 'pkt') tags[insn.dst] = { kind: 'pkt' };
        else tags[insn.dst] = undefined;
        break;
      }
      case 'LDX': {
        const base = tags[insn.src];
        if (base?.kind === 'fp') touch(base.off + insn.off);
        tags[insn.dst] = base?.kind === 'ctx' && pktCtxOffsets.includes(insn.off) ? { kind: 'pkt' } : undefined;
        break;
      }
      case 'ST':
      case 'STX': {
        const base = tags[insn.dst];
        if (base?.kind === 'fp') touch(base.off + insn.off);
        if (insn.cls === 'STX' && memMode(insn) === BPF_MODE_ATOMIC) {
          const { op: name, fetch } = atomicOp(insn.imm);
          facts.atomics.push({ ...ref(insn), op: name, fetch, width: (op & 0x18) === 0x18 ? 64 : 32, opcode: op });
          if (fetch) tags[name === 'cmpxchg' ? 0 : insn.src] = undefined;
        } else if (base?.kind === 'pkt') {
          facts.packetRewrites.push({ ...ref(insn), kind: 'store' });
        }
        break;
      }
      case 'LD':
        tags[0] = undefined;
        break;
    }
  }
  facts.stackBytes = -minStack;
  facts.helpers = [...helpers].map(([id, sites]) => ({ id: id as number, name: helperName(id as number), sites }));
  facts.maps = [...maps].map(([name, sites]) => ({ name: name as string, sites }));
  facts.opcodes = [...opcodes]
    .sort(([a], [b]) => (a as number) - (b as number))
    .map(([opcode, sites]) => ({ opcode: opcode as number, mnemonic: opcodeMnemonic(opcode as number, fn.insns.find((i) => i.opcode === opcode)!.imm), sites }));
  if (fn.entry) facts.returns = exitReturns(fn.insns);
  return facts;
}
