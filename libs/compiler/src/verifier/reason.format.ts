import type { InsnRef, ProgramFacts } from '../analysis/analysis.types';

export function n(value: number): string {
  return value.toLocaleString('en-US');
}

/** `at insn 25`, or `at insn 12 of mix (.text)` when the site sits in a called subprogram. */
export function at(site: InsnRef, program: ProgramFacts): string {
  return site.function === program.name ? `at insn ${site.insn}` : `at insn ${site.insn} of ${site.function} (${site.section})`;
}

export function siteFields(site: InsnRef) {
  return { insn: site.insn, function: site.function, section: site.section };
}

export const XDP_ACTION_NAMES = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];

export function actionName(value: number): string {
  return XDP_ACTION_NAMES[value] ?? `action ${value}`;
}
