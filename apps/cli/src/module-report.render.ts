import type { ModuleReport } from '@ioplane/catalog';

const kib = (n: number) => (n >= 1024 ? `${(n / 1024).toFixed(n >= 10240 ? 0 : 1)} KiB` : `${n} B`);

/** The human form of `modules check`: facts, kernel verdict, vectors, cost, then a verdict per profile. */
export function renderModuleReport(r: ModuleReport): string {
  const p = r.program;
  const out: string[] = [];
  out.push(
    `module ${r.module.name} ${r.module.version} (${r.module.origin})  digest ${r.artifact.digest.slice(0, 16)}${r.artifact.cached ? '  (cached build)' : ''}`,
  );
  out.push(
    `program ${p.name} (section ${p.section}, type ${p.type}${p.typeSource === 'given' ? ' as given' : p.typeSource === 'unknown' ? ', section unknown to libbpf: give --type' : ''}): ${p.totalInstructions} slots, stack ${p.maxStackDepth} B, loops ${p.backEdges.length}, tail calls ${p.tailCalls.length}, atomics ${p.atomics.length}`,
  );
  if (r.programs.length > 1) {
    out.push(`programs in the object (${r.programs.length}):`);
    for (const x of r.programs) {
      const accepts = x.verdicts.filter((v) => v.accepted).map((v) => v.profileId);
      out.push(
        `  ${x.deployed ? '*' : ' '} ${x.name} (section ${x.section}, ${x.type}${x.attachType ? `/${x.attachType}` : ''}): ${x.totalSlots} slots, stack ${x.stackBytes} B, helpers ${x.helpers.join(',') || 'none'}, maps ${x.maps.join(',') || 'none'}, kernel ${x.kernel}, accepted by ${accepts.join(', ') || 'none'}`,
      );
    }
  }
  out.push(`helpers: ${p.helpers.map((h) => `${h.name}(${h.id}) x${h.sites.length}`).join(', ') || 'none'}`);
  const stores = p.packetRewrites.filter((w) => w.kind === 'store').map((w) => w.insn);
  const helpers = p.packetRewrites.filter((w) => w.kind === 'helper').map((w) => `${w.helper} at insn ${w.insn}`);
  out.push(
    `packet rewrites: ${[...helpers, ...(stores.length ? [`${stores.length} direct stores (insns ${stores.join(', ')})`] : [])].join('; ') || 'none'}`,
  );
  out.push(
    `maps: ${r.maps.map((m) => `${m.name} ${m.typeName} ${m.keySize}B->${m.valueSize}B x${m.maxEntries} (${kib(m.bytes)})`).join(', ') || 'none'}`,
  );
  const k = r.kernel;
  out.push(
    `kernel verifier: ${!k.verify ? `not run (${k.reason})` : k.verify.accepted ? `accepted (tag ${k.verify.tag}, ${k.verify.xlatedInsns} xlated insns)` : `REFUSED\n    ${k.verify.verifierLog.join('\n    ')}`}`,
  );
  if (r.vectors) {
    out.push(`test vectors: ${r.vectors.filter((v) => v.passed).length}/${r.vectors.length} passed`);
    for (const v of r.vectors) {
      out.push(
        `  ${v.passed ? 'ok  ' : 'FAIL'} ${v.name}: ${v.actualVerdict}${v.passed ? ` ${v.nsPerPacket.toFixed(1)} ns` : ` (expected ${v.expectedVerdict}) ${v.reason ?? ''}`}`,
      );
    }
  } else {
    out.push(`test vectors: not run (${k.reason ?? 'no vectors'})`);
  }
  out.push(
    `cost: ${r.cost.nsPerPacket.toFixed(1)} ns/packet on the host (${r.cost.estimated ? 'ESTIMATE from instruction count' : 'measured with BPF_PROG_TEST_RUN'})`,
  );
  out.push('profiles:');
  const width = Math.max(...r.verdicts.map((v) => v.profileId.length));
  for (const v of r.verdicts) {
    out.push(`  ${v.profileId.padEnd(width)}  ${v.accepted ? `accepts ${v.acceptedTargets.join(', ')}` : 'REFUSES'}`);
    const refused = v.targets.filter((t) => !t.accepted).map((t) => t.target);
    if (refused.length) for (const line of groupReasons(v.reasons)) out.push(`  ${' '.repeat(width)}    - ${line}`);
  }
  return out.join('\n');
}

/** What `modules check --json` prints for a file it could not check. */
export interface ObjectErrorDocument {
  file: string;
  error: { code: string; message: string; field?: string };
}

/** The error document of one file: the error's own code (ElfError, CatalogError, KernelError...), else `internal`. */
export function objectError(file: string, e: unknown): ObjectErrorDocument {
  const err = e as { code?: unknown; message?: unknown; field?: unknown };
  const code = typeof err.code === 'string' ? err.code : 'internal';
  const field = typeof err.field === 'string' ? err.field : undefined;
  return { file, error: { code, message: String(err.message ?? e), ...(field ? { field } : {}) } };
}

export function reportFailed(r: ModuleReport): boolean {
  return (r.kernel.verify !== null && !r.kernel.verify.accepted) || (r.vectors ?? []).some((v) => !v.passed);
}

/** The same rule broken at many instructions reads as one line listing them. */
function groupReasons(reasons: ModuleReport['verdicts'][number]['reasons']): string[] {
  const groups = new Map<string, number[]>();
  for (const r of reasons) {
    const key = `${r.target ? `[${r.target}] ` : ''}${r.message.replace(/ at insn \d+/, '')}`;
    groups.set(key, [...(groups.get(key) ?? []), ...(r.insn !== undefined && / at insn \d+/.test(r.message) ? [r.insn] : [])]);
  }
  return [...groups].map(([k, insns]) => (insns.length ? `${k} (at insn ${insns.join(', ')})` : k));
}
