import { Rule, siteReason } from './offload-rule.context';
import { OffloadReason } from './verifier.types';

/** The driver's checks on single instructions: map value stores, atomics, context access, ALU widths, opcodes. */
/** BPF_ATOMIC imm values (uapi bpf.h): the operation, plus BPF_FETCH (0x01). */
const ATOMIC_IMM: Record<string, number> = { add: 0x00, or: 0x40, and: 0x50, xor: 0xa0, xchg: 0xe1, cmpxchg: 0xf1 };

export const mapWrites: Rule = (c) =>
  c.o.mapValueStores
    ? []
    : c.p.mapValueStores.map((s) =>
        siteReason(c, s, 'map_write', 'map_write', 'store into a map value', 'map writes not supported', 'verifier.c nfp_bpf_check_ptr'),
      );

export const atomics: Rule = (c) => {
  const out: OffloadReason[] = [];
  for (const a of c.p.atomics) {
    const add = a.op === 'add' && !a.fetch;
    if (c.l.atomics !== 'all' && !(c.l.atomics === 'add' && add)) {
      const base = ATOMIC_IMM[a.op];
      const imm = base === undefined ? a.op : String(base | (a.fetch ? 0x01 : 0));
      out.push(
        siteReason(
          c,
          a,
          'atomic',
          'atomic_op',
          `atomic ${a.op}${a.fetch ? ' with fetch' : ''} (${a.width}-bit)`,
          `atomic op not implemented: ${imm}`,
          'verifier.c nfp_bpf_check_atomic',
          { actual: a.op, limit: c.l.atomics },
        ),
      );
    } else if (c.o.atomicsOnMapValuesOnly && a.target !== 'map_value') {
      out.push(
        siteReason(
          c,
          a,
          'atomic',
          'atomic_target',
          `atomic ${a.op} into ${a.target === 'unknown' ? 'memory not shown to be a map value' : `the ${a.target.replace('_', ' ')}`}`,
          `atomic add not to a map value pointer: ${a.target}`,
          'verifier.c nfp_bpf_check_atomic',
          { actual: a.target, limit: 'map_value' },
        ),
      );
    }
  }
  return out;
};

export const ctxAccess: Rule = (c) => {
  if (c.p.type !== 'xdp') return [];
  const out: OffloadReason[] = [];
  for (const a of c.p.ctxAccesses) {
    if (a.access === 'load' && !(c.o.ctxReadOffsets.includes(a.offset) && a.size === c.o.ctxReadBytes)) {
      out.push(
        siteReason(
          c,
          a,
          'ctx_access',
          'ctx_read',
          `${a.size}-byte read of xdp_md offset ${a.offset} (the device has only data and data_end)`,
          'mem_ldx_xdp: -EOPNOTSUPP',
          'jit.c mem_ldx_xdp',
          { actual: a.offset, limit: c.o.ctxReadOffsets.join(',') },
        ),
      );
    } else if (a.access === 'store' && !c.o.ctxWriteOffsets.includes(a.offset)) {
      out.push(
        siteReason(
          c,
          a,
          'ctx_access',
          'ctx_write',
          `store to xdp_md at offset ${a.offset}`,
          a.offset === 16 ? 'queue selection not supported by FW' : 'unsupported store to context field',
          'verifier.c nfp_bpf_check_store',
          { actual: a.offset },
        ),
      );
    }
  }
  return out;
};

export const aluWidth: Rule = (c) => {
  if (c.o.mulDivMaxBits >= 64) return [];
  const out: OffloadReason[] = [];
  const bits = c.o.mulDivMaxBits;
  for (const s of c.p.aluSites) {
    const what = `${s.op}${s.width} ${s.source === 'imm' ? `by ${s.imm}` : 'by a register'}`;
    const add = (msg: string, detail: string) =>
      out.push(
        siteReason(c, s, 'alu_width', `alu_${s.op}`, `${what} (${detail})`, msg, 'verifier.c nfp_bpf_check_alu', { limit: `u${bits}` }),
      );
    if (s.op === 'mul') {
      if (!s.dstWithinU32) add('multiplier is not within u32 value range', 'the destination is not shown to fit in 32 bits');
      else if (s.source === 'reg' && !s.srcWithinU32)
        add('multiplicand is not within u32 value range', 'the source is not shown to fit in 32 bits');
      else if (s.width === 64 && s.source === 'imm' && (s.imm ?? 0) < 0)
        add("sign extended multiplicand won't be within u32 value range", 'a negative immediate sign-extends past 32 bits');
    } else if (s.op === 'div') {
      if (!s.dstWithinU32) add('dividend is not within u32 value range', 'the dividend is not shown to fit in 32 bits');
      else if (s.source === 'reg' && c.o.divisorConstant && !s.srcConstant)
        add('divisor is not constant', 'the divisor is not known at load time');
      else if (s.source === 'reg' && !s.srcWithinU32)
        add('divisor is not within u32 value range', 'the divisor is not shown to fit in 32 bits');
      else if (s.source === 'imm' && (s.imm ?? 0) < 0) add('divide by negative constant is not supported', 'negative divisor');
    }
  }
  return out;
};

export const opcodes: Rule = (c) =>
  c.p.opcodes
    .filter((o) => c.l.refusedOpcodes.includes(o.opcode))
    .flatMap((o) =>
      o.sites.map((s) =>
        siteReason(
          c,
          s,
          'opcode',
          'opcode',
          `opcode 0x${o.opcode.toString(16).padStart(2, '0')} (${o.mnemonic})`,
          `instruction 0x${o.opcode.toString(16)} not supported`,
          'verifier.c nfp_verify_insn (jit.c instr_cb)',
          { actual: o.opcode },
        ),
      ),
    );
