import type { ProfileLimits } from '@ioplane/domain';
import type { MapFacts, ObjectFacts, ProgramFacts } from '../analysis/analysis.types';
import { TAIL_CALL_HELPER, helperName } from '../analysis/helper.table';
import { mapFlagNames, mapTypeName } from '../analysis/map.types';
import { programMaps } from './program.maps';
import { at, actionName, n, siteFields } from './reason.format';
import { SUPERSEDED, driverReasons } from './offload-driver.rules';
import { OffloadReason } from './verifier.types';

export { programMaps } from './program.maps';

function codeReasons(p: ProgramFacts, l: ProfileLimits, who: string): OffloadReason[] {
  const out: OffloadReason[] = [];
  if (p.totalInstructions > l.maxInstructions) {
    const device =
      l.instructionExpansion !== 1
        ? ` (x${l.instructionExpansion} expansion = ~${n(Math.ceil(p.totalInstructions * l.instructionExpansion))} device instructions, over the device's ~${n(Math.floor(l.maxInstructions * l.instructionExpansion))})`
        : '';
    const parts = p.functions.length > 1 ? ` across ${p.functions.join(', ')}` : '';
    out.push({
      code: 'instructions',
      message: `${n(p.totalInstructions)} instructions${parts} over the profile's ${n(l.maxInstructions)}${device}`,
      limit: l.maxInstructions,
      actual: p.totalInstructions,
    });
  }
  if (p.maxStackDepth > l.stackBytes) {
    const chain = p.maxStackDepth !== p.stackBytes ? ` (including called subprograms; ${p.name} alone uses ${p.stackBytes} B)` : '';
    out.push({
      code: 'stack',
      message: `stack depth ${p.maxStackDepth} B${chain} over ${who}'s ${l.stackBytes} B`,
      limit: l.stackBytes,
      actual: p.maxStackDepth,
    });
  }
  for (const h of p.helpers) {
    if (l.helpers === null || l.helpers.includes(h.id)) continue;
    if (h.id === TAIL_CALL_HELPER && !l.tailCalls) continue; // reported as tail_call
    for (const s of h.sites) {
      out.push({
        code: 'helper',
        message: `helper ${h.name} (${h.id}) ${at(s, p)} is not supported by ${who}`,
        ...siteFields(s),
        actual: h.id,
        limit: l.helpers.join(','),
      });
    }
  }
  if (!l.tailCalls) {
    for (const s of p.tailCalls)
      out.push({
        code: 'tail_call',
        message: `tail call (${helperName(TAIL_CALL_HELPER)}) ${at(s, p)}: ${who} does not support tail calls`,
        ...siteFields(s),
      });
  }
  if (!l.bpfToBpfCalls) {
    for (const s of p.bpfCalls)
      out.push({
        code: 'bpf_call',
        message: `BPF-to-BPF call to ${s.target} ${at(s, p)}: ${who} does not support subprogram calls (mark it __always_inline)`,
        ...siteFields(s),
      });
  }
  if (l.helpers !== null) {
    // A restricted helper list means a restricted runtime: kfuncs are kernel functions no device firmware offers.
    for (const s of p.kfuncCalls)
      out.push({ code: 'kfunc', message: `kfunc call ${s.target} ${at(s, p)}: ${who} supports no kfuncs`, ...siteFields(s) });
  }
  for (const o of p.opcodes) {
    if (!l.refusedOpcodes.includes(o.opcode)) continue;
    for (const s of o.sites) {
      out.push({
        code: 'opcode',
        message: `opcode 0x${o.opcode.toString(16).padStart(2, '0')} (${o.mnemonic}) ${at(s, p)} is refused by ${who}`,
        ...siteFields(s),
        actual: o.opcode,
      });
    }
  }
  for (const a of p.atomics) {
    const ok = l.atomics === 'all' || (l.atomics === 'add' && a.op === 'add' && !a.fetch);
    if (ok) continue;
    const what = `atomic ${a.op}${a.fetch && a.op !== 'xchg' && a.op !== 'cmpxchg' ? ' with fetch' : ''} (${a.width}-bit)`;
    const allowed = l.atomics === 'none' ? 'no atomics' : 'only atomic add without fetch';
    out.push({
      code: 'atomic',
      message: `${what} ${at(a, p)}: ${who} allows ${allowed}`,
      ...siteFields(a),
      limit: l.atomics,
      actual: a.op,
    });
  }
  if (p.xdpReturns) {
    for (const c of p.xdpReturns.constants) {
      if (l.xdpActions.includes(c)) continue;
      out.push({
        code: 'xdp_action',
        message: `returns ${actionName(c)} (${c}), which ${who} does not honour (allowed: ${l.xdpActions.map(actionName).join(', ') || 'none'})`,
        actual: c,
        limit: l.xdpActions.join(','),
      });
    }
    if (p.xdpReturns.redirects && !l.xdpActions.includes(4)) {
      for (const h of p.helpers.filter((h) => h.id === 23 || h.id === 51)) {
        for (const s of h.sites) {
          out.push({
            code: 'xdp_action',
            message: `${h.name} ${at(s, p)} makes the program return XDP_REDIRECT (4), which ${who} does not honour`,
            ...siteFields(s),
            actual: 4,
            limit: l.xdpActions.join(','),
          });
        }
      }
    }
  }
  return out;
}

function mapReasons(facts: ObjectFacts, p: ProgramFacts, l: ProfileLimits, who: string): OffloadReason[] {
  const out: OffloadReason[] = [];
  const maps = programMaps(facts, p);
  const known = maps.filter((m): m is { name: string; def: MapFacts } => !!m.def && m.def.source !== 'none');
  for (const m of maps.filter((m) => !m.def || m.def.source === 'none')) {
    out.push({
      code: 'map_unknown',
      message: `map ${m.name} has no readable definition (no BTF?); it cannot be checked against ${who}`,
      map: m.name,
    });
  }
  for (const { name, def } of known) {
    if (l.mapTypes !== null && !l.mapTypes.includes(def.type)) {
      const allowed = l.mapTypes.length ? l.mapTypes.map(mapTypeName).join(', ') : 'none';
      out.push({
        code: 'map_type',
        message: `map ${name} of type ${def.typeName} is not offloadable to ${who} (allowed: ${allowed})`,
        map: name,
        actual: def.typeName,
        limit: allowed,
      });
    }
    if (!l.mapFlagsAllowed && def.mapFlags !== 0) {
      const origin = def.internal ? ' (libbpf sets it on global-data maps)' : '';
      out.push({
        code: 'map_flags',
        message: `map ${name} has map_flags ${mapFlagNames(def.mapFlags)}${origin}; ${who} requires map_flags 0`,
        map: name,
        actual: def.mapFlags,
        limit: 0,
      });
    }
    const entryBytes = def.keySize + def.valueSize;
    if (l.maxEntryBytes !== null && entryBytes > l.maxEntryBytes) {
      out.push({
        code: 'map_entry_size',
        message: `map ${name} entries are ${entryBytes} B (key ${def.keySize} + value ${def.valueSize}) over ${who}'s ${l.maxEntryBytes} B`,
        map: name,
        actual: entryBytes,
        limit: l.maxEntryBytes,
      });
    }
    if (def.maxEntries > l.maxMapEntries) {
      out.push({
        code: 'map_entries',
        message: `map ${name} has ${n(def.maxEntries)} entries over ${who}'s ${n(l.maxMapEntries)}`,
        map: name,
        actual: def.maxEntries,
        limit: l.maxMapEntries,
      });
    }
    if (def.bytes > l.mapMemoryBytes) {
      out.push({
        code: 'map_memory',
        message: `map ${name} needs ${n(def.bytes)} B (${n(def.maxEntries)} x ${entryBytes} B) over ${who}'s ${n(l.mapMemoryBytes)} B of map memory`,
        map: name,
        actual: def.bytes,
        limit: l.mapMemoryBytes,
      });
    }
  }
  if (known.length > 1) {
    const entries = known.reduce((s, m) => s + m.def.maxEntries, 0);
    const bytes = known.reduce((s, m) => s + m.def.bytes, 0);
    if (entries > l.maxMapEntries) {
      out.push({
        code: 'map_entries',
        message: `maps ${known.map((m) => m.name).join(', ')} hold ${n(entries)} entries together, over ${who}'s ${n(l.maxMapEntries)}`,
        actual: entries,
        limit: l.maxMapEntries,
      });
    }
    if (bytes > l.mapMemoryBytes) {
      out.push({
        code: 'map_memory',
        message: `maps ${known.map((m) => m.name).join(', ')} need ${n(bytes)} B together, over ${who}'s ${n(l.mapMemoryBytes)} B of map memory`,
        actual: bytes,
        limit: l.mapMemoryBytes,
      });
    }
  }
  return out;
}

/** Every way the program breaks the profile's eBPF limits; a driver's own rules replace the generic ones they cover. */
export function ebpfLimitReasons(facts: ObjectFacts, p: ProgramFacts, l: ProfileLimits, who: string): OffloadReason[] {
  const out: OffloadReason[] = [];
  if (p.type !== 'xdp') {
    const hint =
      p.typeSource === 'unknown' ? `; section ${p.section} is not a libbpf section name: give the type (manifest \`type\`, --type)` : '';
    out.push({
      code: 'program_type',
      message: `program ${p.name} is ${p.type} (section ${p.section}); XDP targets of ${who} take only xdp programs${hint}`,
      actual: p.type,
      limit: 'xdp',
    });
  }
  const generic = [...codeReasons(p, l, who), ...mapReasons(facts, p, l, who)];
  const all = l.offload
    ? [...out, ...generic.filter((r) => !SUPERSEDED.has(r.code)), ...driverReasons(facts, p, l, who)]
    : [...out, ...generic];
  return all.map((r) => ({ ...r, rule: r.rule ?? r.code }));
}
