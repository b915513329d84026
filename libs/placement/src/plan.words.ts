import type { ResourceKind } from './machine.problem';
import type { CostBreakdown } from './placement.model';

/** Words of explanations: device tokens bound per machine, numbers, units. */

const UNIT: Record<ResourceKind, string> = {
  slots: 'program slots',
  instructions: 'instructions',
  mapMemoryBytes: 'map bytes',
  flowRules: 'flow rules',
  throughput: 'of packet budget',
  arm: 'of Arm cores',
  hostCores: 'host cores',
};

/** Device ids appear in messages as `{device:N}` so one explanation serves every machine of a class. */
const TOKENS: string[] = [];

export function deviceToken(d: number): string {
  return (TOKENS[d + 1] ??= `{device:${d}}`);
}

export function bindDevices(message: string, ids: readonly string[]): string {
  let at = message.indexOf('{device:');
  if (at < 0) return message;
  // Scanned by hand, not with a replace callback: every reason of every machine's plan goes
  // through here, and the regular expression and its callback cost more than the copy.
  let out = '';
  let from = 0;
  while (at >= 0) {
    let end = at + 8;
    while (end < message.length && message.charCodeAt(end) >= 48 && message.charCodeAt(end) <= 57) end++;
    if (end === at + 8 || message.charCodeAt(end) !== 125) {
      out += message.slice(from, end);
    } else {
      const i = message.slice(at + 8, end);
      out += message.slice(from, at) + (ids[Number(i)] ?? `device ${i}`);
      end++;
    }
    from = end;
    at = message.indexOf('{device:', from);
  }
  return out + message.slice(from);
}

export function unitOf(kind: ResourceKind): string {
  return UNIT[kind];
}

/** The string as one flat string (V8 flattens a cons string when a character is read). */
export function flat(s: string): string {
  if (s.length > 12) s.charCodeAt(0);
  return s;
}

/** A cost breakdown in words (CostBreakdown's fields, in its order). */
export function costWords(
  hostCores: number,
  armCores: number,
  deviceUtilisation: number,
  latencyUs: number,
  migrationSeconds: number,
  preferPenalty: number,
  total: number,
): string {
  // Joined, not concatenated: join writes one flat string, with no tree of pieces to flatten.
  const parts = [fmt(total), ' hce'];
  if (hostCores) parts.push(', ', fmt(hostCores), ' host cores');
  if (armCores) parts.push(', ', fmt(armCores), ' Arm cores');
  if (deviceUtilisation) parts.push(', ', fmt(100 * deviceUtilisation), ' % of device packet budget');
  parts.push(', ', fmt(latencyUs), ' us added');
  if (migrationSeconds) parts.push(', ', fmt(migrationSeconds), ' s migration');
  if (preferPenalty) parts.push(', ', fmt(preferPenalty), ' hce off-preference');
  return parts.join('');
}

/** What a hop costs, in words: the CLI and the fleet map show a plan's costBreakdown this way. */
export function breakdownWords(b: CostBreakdown): string {
  return costWords(b.hostCores, b.armCores, b.deviceUtilisation, b.latencyUs, b.migrationSeconds, b.preferPenalty, b.total);
}

export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 1 ? x.toFixed(2) : x.toFixed(4);
}
