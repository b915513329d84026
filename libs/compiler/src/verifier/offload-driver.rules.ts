import type { OffloadRules, ProfileLimits } from '@ioplane/domain';
import type { MapFacts, ObjectFacts, ProgramFacts } from '../analysis/analysis.types';
import { helperName } from '../analysis/helper.table';
import { mapFlagNames } from '../analysis/map.types';
import { programMaps } from './program.maps';
import { n } from './reason.format';
import { aluWidth, atomics, ctxAccess, mapWrites, opcodes } from './offload-insn.rules';
import { Ctx, reason, Rule, siteReason } from './offload-rule.context';
import { OffloadReason, OffloadReasonCode } from './verifier.types';

/**
 * The checks a device driver makes on an offloaded program, driven by the profile's `offload` block.
 * Each rule is one function (here, or in offload-insn.rules.ts for single instructions), named by its
 * `rule` id; its reason quotes the driver's own message (nfp: drivers/net/ethernet/netronome/nfp/bpf/)
 * so an operator can grep the kernel for it.
 * Generic limit reasons with the codes in SUPERSEDED are replaced by these when the block is present.
 */
export const SUPERSEDED: ReadonlySet<OffloadReasonCode> = new Set<OffloadReasonCode>([
  'helper',
  'tail_call',
  'opcode',
  'atomic',
  'stack',
  'instructions',
  'map_type',
  'map_flags',
  'map_entry_size',
  'map_entries',
]);

const MAP_HELPER_NAMES: Record<number, string> = { 1: 'map_lookup', 2: 'map_update', 3: 'map_delete' };
const PERF_EVENT_OUTPUT = 25;
const BPF_F_CURRENT_CPU = 0xffffffffn;
/** Register kinds bpf_perf_event_output's data may point to on nfp (NULL is a scalar). */
const PERF_DATA_KINDS = ['stack', 'map_value', 'packet', 'scalar'];

const attachType: Rule = (c) => {
  const t = c.p.attachType;
  if (!t || !c.o.refusedAttachTypes.includes(t)) return [];
  const what = `program ${c.p.name} (section ${c.p.section}: for ${t === 'XDP_DEVMAP' ? 'devmap' : t === 'XDP_CPUMAP' ? 'cpumap' : t} entries, not a port)`;
  return [
    reason(c, 'attach_type', 'attach_type', what, `BPF_${t} programs can not be attached to a device`, 'net/core/dev.c dev_xdp_attach', {
      actual: t,
      limit: c.o.refusedAttachTypes.join(','),
    }),
  ];
};

const helpers: Rule = (c) => {
  const allowed = c.l.helpers;
  if (allowed === null) return [];
  return c.p.helperCalls
    .filter((h) => !allowed.includes(h.helper))
    .map((h) =>
      siteReason(
        c,
        h,
        h.helper === 12 ? 'tail_call' : 'helper',
        'helper',
        `helper ${helperName(h.helper)} (${h.helper})`,
        `unsupported function id: ${h.helper}`,
        'verifier.c nfp_bpf_check_helper_call',
        { actual: h.helper, limit: allowed.join(',') },
      ),
    );
};

const mapHelperArgs: Rule = (c) => {
  if (!c.o.mapArgsOnStack) return [];
  const out: OffloadReason[] = [];
  for (const h of c.p.helperCalls) {
    const fname = MAP_HELPER_NAMES[h.helper];
    if (!fname || !(c.l.helpers ?? []).includes(h.helper)) continue;
    const regs = h.helper === 2 ? [2, 3] : [2];
    for (const reg of regs) {
      const arg = h.args.find((a) => a.reg === reg)!;
      const role = reg === 2 ? 'key' : 'value';
      if (arg.kind !== 'stack') {
        out.push(
          siteReason(
            c,
            h,
            'helper_args',
            'map_helper_args',
            `${helperName(h.helper)} ${role} (r${reg}) points to ${arg.kind === 'unknown' ? 'something not shown to be the stack' : `a ${arg.kind.replace('_', ' ')}`}`,
            `${fname}: unsupported ptr type ${arg.kind}`,
            'verifier.c nfp_bpf_stack_arg_ok',
            { actual: arg.kind, limit: 'stack' },
          ),
        );
      } else if (arg.stackOffset !== undefined && -arg.stackOffset % c.o.stackArgAlign !== 0) {
        out.push(
          siteReason(
            c,
            h,
            'helper_args',
            'map_helper_args',
            `${helperName(h.helper)} ${role} (r${reg}) is at fp${arg.stackOffset}, not ${c.o.stackArgAlign}-byte aligned`,
            `${fname}: unaligned stack pointer ${-arg.stackOffset}`,
            'verifier.c nfp_bpf_stack_arg_ok',
            { actual: arg.stackOffset, limit: c.o.stackArgAlign },
          ),
        );
      }
    }
  }
  return out;
};

const perfEventArgs: Rule = (c) => {
  if (!c.o.perfEventCurrentCpu) return [];
  const out: OffloadReason[] = [];
  for (const h of c.p.helperCalls.filter((x) => x.helper === PERF_EVENT_OUTPUT)) {
    const flags = h.args.find((a) => a.reg === 3)!;
    // As nfp reads the register's tnum: only the low 32 bits (BPF_F_INDEX_MASK) must be known and equal CURRENT_CPU.
    const low =
      flags.value !== undefined ? BigInt(flags.value) & BPF_F_CURRENT_CPU : flags.low32 !== undefined ? BigInt(flags.low32) : undefined;
    const value = flags.value === undefined ? undefined : BigInt(flags.value);
    if (low !== BPF_F_CURRENT_CPU) {
      const shown = low === undefined ? 'not known in its low 32 bits' : `0x${(value ?? low).toString(16)}`;
      out.push(
        siteReason(
          c,
          h,
          'helper_args',
          'perf_event_current_cpu',
          `bpf_perf_event_output flags (r3) ${shown}, not BPF_F_CURRENT_CPU`,
          `event_output: must use BPF_F_CURRENT_CPU, var_off: ${value === undefined ? '(unknown)' : `(0x${value.toString(16)}; 0x0)`}`,
          'verifier.c nfp_bpf_check_helper_call',
          { actual: flags.value ?? 'unknown', limit: 'BPF_F_CURRENT_CPU' },
        ),
      );
    }
    const data = h.args.find((a) => a.reg === 4)!;
    if (!PERF_DATA_KINDS.includes(data.kind)) {
      out.push(
        siteReason(
          c,
          h,
          'helper_args',
          'perf_event_data',
          `bpf_perf_event_output data (r4) points to ${data.kind === 'unknown' ? 'an unknown kind of memory' : `the ${data.kind.replace('_', ' ')}`}`,
          `event_output: unsupported ptr type: ${data.kind}`,
          'verifier.c nfp_bpf_check_helper_call',
          { actual: data.kind, limit: PERF_DATA_KINDS.join(',') },
        ),
      );
    }
  }
  return out;
};

/** nfp_bpf_get_stack_usage: deepest call chain of frames each rounded up, called frames carrying return address and saved regs. */
export function deviceStackBytes(
  p: ProgramFacts,
  o: Pick<OffloadRules, 'stackFrameAlign' | 'callFrameBytes' | 'calleeSavedBytes'>,
): number {
  const frames = new Map(p.frames.map((f) => [f.function, f]));
  const round = (v: number) => Math.ceil(v / o.stackFrameAlign) * o.stackFrameAlign;
  const frameBytes = (fn: string, main: boolean) => {
    const f = frames.get(fn);
    if (!f) return 0;
    return round(f.stackBytes + (main ? 0 : o.callFrameBytes + (f.savesCalleeRegs ? o.calleeSavedBytes : 0)));
  };
  const depth = (fn: string, main: boolean, seen: Set<string>): number => {
    if (seen.has(fn)) return 0;
    const next = new Set(seen).add(fn);
    const callees = [...new Set(p.bpfCalls.filter((s) => s.function === fn).map((s) => s.target))];
    return frameBytes(fn, main) + Math.max(0, ...callees.map((t) => depth(t, false, next)));
  };
  return depth(p.name, true, new Set());
}

const stack: Rule = (c) => {
  const used = deviceStackBytes(c.p, c.o);
  if (used <= c.l.stackBytes) return [];
  const chain = c.p.functions.length > 1 ? ` across ${c.p.functions.join(', ')}` : '';
  return [
    reason(
      c,
      'stack',
      'stack',
      `stack of ${used} B${chain} (frames rounded up to ${c.o.stackFrameAlign} B) over the firmware's ${c.l.stackBytes} B`,
      `stack too large: program ${used}B > FW stack ${c.l.stackBytes}B`,
      'verifier.c nfp_bpf_finalize',
      { actual: used, limit: c.l.stackBytes },
    ),
  ];
};

const instructions: Rule = (c) => {
  if (c.p.totalInstructions <= c.l.maxInstructions) return [];
  const device = Math.ceil(c.p.totalInstructions * c.l.instructionExpansion);
  const store = Math.floor(c.l.maxInstructions * c.l.instructionExpansion);
  const parts = c.p.functions.length > 1 ? ` across ${c.p.functions.join(', ')}` : '';
  return [
    reason(
      c,
      'instructions',
      'instructions',
      `${n(c.p.totalInstructions)} slots${parts} expand (x${c.l.instructionExpansion}, ESTIMATE) to ~${n(device)} device instructions, over the ~${n(store)}-instruction store (${n(c.l.maxInstructions)} slots)`,
      `instruction limit reached (${n(device)} NFP instructions)`,
      'jit.c nfp_prog_push',
      { actual: c.p.totalInstructions, limit: c.l.maxInstructions },
    ),
  ];
};

function deviceMap(c: Ctx, name: string, def: MapFacts): OffloadReason[] {
  const out: OffloadReason[] = [];
  const add = (code: OffloadReasonCode, rule: string, what: string, msg: string, extra: Partial<OffloadReason>) =>
    out.push(reason(c, code, rule, what, msg, 'offload.c nfp_bpf_map_alloc', { map: name, ...extra }));
  if (c.l.mapTypes !== null && !c.l.mapTypes.includes(def.type)) {
    add('map_type', 'map_type', `map ${name} of type ${def.typeName} is not offloadable to ${c.who}`, 'map type not supported', {
      actual: def.typeName,
      limit: [...c.l.mapTypes, ...c.o.neutralMapTypes].join(','),
    });
  }
  if (!c.l.mapFlagsAllowed && def.mapFlags !== 0) {
    add(
      'map_flags',
      'map_flags',
      `map ${name} has map_flags ${mapFlagNames(def.mapFlags)}${def.internal ? ' (libbpf sets it on global-data maps)' : ''}`,
      'map flags are not supported',
      { actual: def.mapFlags, limit: 0 },
    );
  }
  const r = (v: number) => Math.ceil(v / c.o.entryRounding) * c.o.entryRounding;
  const elem = r(def.keySize) + r(def.valueSize);
  if (c.l.maxEntryBytes !== null && elem > c.l.maxEntryBytes) {
    add(
      'map_entry_size',
      'map_entry_size',
      `map ${name} entries take ${elem} B (key ${def.keySize} -> ${r(def.keySize)}, value ${def.valueSize} -> ${r(def.valueSize)}, each rounded up to ${c.o.entryRounding} B)`,
      `map elements too large: ${elem}, FW max element size (key+value): ${c.l.maxEntryBytes}`,
      { actual: elem, limit: c.l.maxEntryBytes },
    );
  }
  if (c.o.maxKeyBytes !== null && def.keySize > c.o.maxKeyBytes) {
    add(
      'map_entry_size',
      'map_key_size',
      `map ${name} key of ${def.keySize} B`,
      `map key size ${def.keySize}, FW max is ${c.o.maxKeyBytes}`,
      { actual: def.keySize, limit: c.o.maxKeyBytes },
    );
  }
  if (c.o.maxValueBytes !== null && def.valueSize > c.o.maxValueBytes) {
    add(
      'map_entry_size',
      'map_value_size',
      `map ${name} value of ${def.valueSize} B`,
      `map value size ${def.valueSize}, FW max is ${c.o.maxValueBytes}`,
      { actual: def.valueSize, limit: c.o.maxValueBytes },
    );
  }
  return out;
}

const maps: Rule = (c) => {
  const out: OffloadReason[] = [];
  let left = c.l.maxMapEntries;
  for (const { name, def } of programMaps(c.facts, c.p)) {
    if (!def || def.source === 'none' || c.o.neutralMapTypes.includes(def.type)) continue;
    out.push(...deviceMap(c, name, def));
    if (def.maxEntries > left) {
      out.push(
        reason(
          c,
          'map_entries',
          'map_entries',
          `map ${name} has ${n(def.maxEntries)} entries`,
          `map with too many elements: ${def.maxEntries}, left: ${Math.max(0, left)}`,
          'offload.c nfp_bpf_map_alloc',
          { map: name, actual: def.maxEntries, limit: left },
        ),
      );
    }
    left -= def.maxEntries;
  }
  return out;
};

/** Every rule, in the order reasons are listed. */
export const DRIVER_RULES: ReadonlyArray<[string, Rule]> = [
  ['attach_type', attachType],
  ['helper', helpers],
  ['map_helper_args', mapHelperArgs],
  ['perf_event', perfEventArgs],
  ['map_write', mapWrites],
  ['atomic', atomics],
  ['ctx_access', ctxAccess],
  ['alu_width', aluWidth],
  ['opcode', opcodes],
  ['stack', stack],
  ['instructions', instructions],
  ['maps', maps],
];

export function driverReasons(facts: ObjectFacts, p: ProgramFacts, l: ProfileLimits, who: string): OffloadReason[] {
  if (!l.offload) return [];
  const c: Ctx = { facts, p, l, o: l.offload, who };
  return DRIVER_RULES.flatMap(([, rule]) => rule(c));
}
