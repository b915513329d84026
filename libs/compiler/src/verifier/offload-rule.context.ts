import type { OffloadRules, ProfileLimits } from '@ioplane/domain';
import type { InsnRef, ObjectFacts, ProgramFacts } from '../analysis/analysis.types';
import { at, siteFields } from './reason.format';
import { OffloadReason, OffloadReasonCode } from './verifier.types';

/** What every driver rule reads, and the reason shape they share (offload-driver.rules.ts lists the rules). */
export interface Ctx {
  facts: ObjectFacts;
  p: ProgramFacts;
  l: ProfileLimits;
  o: OffloadRules;
  who: string;
}

export type Rule = (c: Ctx) => OffloadReason[];

/** `<what> is not supported by <profile>: nfp says "<driver message>" (<source>) [rule <rule>]`; `what` may carry its own verb. */
export function reason(
  c: Ctx,
  code: OffloadReasonCode,
  rule: string,
  what: string,
  driverMessage: string,
  source: string,
  extra: Partial<OffloadReason> = {},
): OffloadReason {
  const verb = / is not offloadable to /.test(what) ? '' : ` is not supported by ${c.who}`;
  return {
    code,
    rule,
    message: `${what}${verb}: ${c.o.driver} says "${driverMessage}" (${source}) [rule ${rule}]`,
    driverMessage,
    source,
    ...extra,
  };
}

export const siteReason = (
  c: Ctx,
  s: InsnRef,
  code: OffloadReasonCode,
  rule: string,
  what: string,
  msg: string,
  source: string,
  extra: Partial<OffloadReason> = {},
) => reason(c, code, rule, `${what} ${at(s, c.p)}`, msg, source, { ...siteFields(s), ...extra });
