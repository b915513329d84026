import type { ProfileLimits, Target } from '@ioplane/domain';
import type { ObjectFacts, ProgramFacts } from '../analysis/analysis.types';
import { PACKET_RESIZE_HELPERS, PACKET_WRITE_HELPERS } from '../analysis/helper.table';
import { MAP_TYPE, mapTypeName } from '../analysis/map.types';
import { programMaps } from './ebpf-limits.rules';
import { at, n, siteFields } from './reason.format';
import { OffloadReason } from './verifier.types';

/**
 * "Pure match-action": a program a flow-offload engine (tc flower skip_sw, ASAP2, DOCA Flow, P4 tables)
 * can express as rules, i.e. parse headers, look the packet up in tables, return a verdict.
 *  - program type xdp or sched_cls;
 *  - helpers: bpf_map_lookup_elem only (no map writes, no redirects); packet-changing helpers
 *    (adjust_head/tail/meta, store_bytes, csum/vlan) are reported as packet_rewrite;
 *  - no loops (back edges), no tail calls, no BPF-to-BPF calls, no kfuncs;
 *  - no packet rewrites: no direct stores through ctx->data;
 *  - maps: HASH (exact match), ARRAY (index), LPM_TRIE (prefix match) only; no mutable global data
 *    (.data/.bss); .rodata constants are fine;
 *  - atomics: add without fetch only (per-rule counters);
 *  - the tables' entries together fit the profile's flowRules (each entry becomes one rule).
 */
export const MATCH_ACTION = {
  programTypes: ['xdp', 'sched_cls'] as readonly string[],
  helpers: [1] as readonly number[],
  mapTypes: [MAP_TYPE.HASH, MAP_TYPE.ARRAY, MAP_TYPE.LPM_TRIE] as readonly number[],
};

export function matchActionReasons(facts: ObjectFacts, p: ProgramFacts, l: ProfileLimits, target: Target, who: string): OffloadReason[] {
  const out: OffloadReason[] = [];
  const not = 'not pure match-action for';
  const add = (r: Omit<OffloadReason, 'target'>) => out.push({ ...r, target });
  if (l.flowRules <= 0) add({ code: 'flow_rules', message: `${who} has no flow-rule capacity for ${target}`, limit: 0 });
  if (!MATCH_ACTION.programTypes.includes(p.type)) {
    add({
      code: 'program_type',
      message: `program ${p.name} is ${p.type}; ${target} takes only xdp or sched_cls match-action programs`,
      actual: p.type,
      limit: 'xdp,sched_cls',
    });
  }
  for (const h of p.helpers.filter((h) => !MATCH_ACTION.helpers.includes(h.id))) {
    const rewrites = PACKET_RESIZE_HELPERS.includes(h.id) || PACKET_WRITE_HELPERS.includes(h.id);
    for (const s of h.sites) {
      add(
        rewrites
          ? {
              code: 'packet_rewrite',
              message: `${not} ${target}: ${h.name} (${h.id}) ${at(s, p)} rewrites the packet`,
              ...siteFields(s),
              actual: h.id,
            }
          : {
              code: 'helper',
              message: `${not} ${target}: helper ${h.name} (${h.id}) ${at(s, p)}; only bpf_map_lookup_elem fits a flow rule`,
              ...siteFields(s),
              actual: h.id,
              limit: MATCH_ACTION.helpers.join(','),
            },
      );
    }
  }
  for (const s of p.backEdges)
    add({ code: 'loop', message: `${not} ${target}: loop (back edge to insn ${s.target}) ${at(s, p)}`, ...siteFields(s) });
  for (const s of p.tailCalls) add({ code: 'tail_call', message: `${not} ${target}: tail call ${at(s, p)}`, ...siteFields(s) });
  for (const s of p.bpfCalls)
    add({ code: 'bpf_call', message: `${not} ${target}: call to subprogram ${s.target} ${at(s, p)}`, ...siteFields(s) });
  for (const s of p.kfuncCalls) add({ code: 'kfunc', message: `${not} ${target}: kfunc call ${s.target} ${at(s, p)}`, ...siteFields(s) });
  for (const s of p.packetRewrites.filter((r) => r.kind === 'store')) {
    add({ code: 'packet_rewrite', message: `${not} ${target}: store into the packet ${at(s, p)}`, ...siteFields(s) });
  }
  for (const a of p.atomics.filter((a) => a.op !== 'add' || a.fetch)) {
    add({
      code: 'atomic',
      message: `${not} ${target}: atomic ${a.op}${a.fetch ? ' with fetch' : ''} ${at(a, p)}; only counter adds fit`,
      ...siteFields(a),
      actual: a.op,
      limit: 'add',
    });
  }
  let entries = 0;
  for (const { name, def } of programMaps(facts, p)) {
    if (def?.internal) {
      if (!def.name.startsWith('.rodata'))
        add({ code: 'global_state', message: `${not} ${target}: mutable global data ${name}`, map: name });
      continue;
    }
    if (!def || !MATCH_ACTION.mapTypes.includes(def.type)) {
      const allowed = MATCH_ACTION.mapTypes.map(mapTypeName).join(', ');
      add({
        code: 'map_type',
        message: `${not} ${target}: map ${name} of type ${def?.typeName ?? 'unknown'} is not a match table (allowed: ${allowed})`,
        map: name,
        actual: def?.typeName ?? 'unknown',
        limit: allowed,
      });
      continue;
    }
    entries += def.maxEntries;
  }
  if (l.flowRules > 0 && entries > l.flowRules) {
    add({
      code: 'flow_rules',
      message: `tables hold up to ${n(entries)} entries, over ${who}'s ${n(l.flowRules)} flow rules on ${target}`,
      actual: entries,
      limit: l.flowRules,
    });
  }
  return out;
}
