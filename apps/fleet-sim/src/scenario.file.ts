import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { z } from 'zod';

const name = z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, { error: 'must be 1-64 letters, digits, dot, dash or underscore' });
const pps = z.number({ error: 'must be a number' }).min(0, { error: 'must be >= 0' });
const step = z.int({ error: 'must be an integer' }).min(0, { error: 'must be >= 0' });

export const scenarioSelectorSchema = z.strictObject({
  tags: z.array(name).optional(),
  zones: z.array(name).optional(),
  pools: z.array(name).optional(),
  hostnames: z.array(name).optional(),
});

/** Module traffic over scenario steps. */
export const patternSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('constant'), pps }),
  /** `base`, then `base x factor` from step `from` for `steps` steps, then `base` again. */
  z.strictObject({ kind: z.literal('surge'), base: pps, factor: z.number().positive(), from: step, steps: z.int().min(1) }),
  /** Linear from `start` pps at step `from` to `end` pps at step `to`; flat outside. */
  z.strictObject({ kind: z.literal('ramp'), start: pps, end: pps, from: step, to: step }),
  /** `low` and `high` alternating every `period` steps, starting low at step `from` (before: low). */
  z.strictObject({ kind: z.literal('oscillate'), low: pps, high: pps, period: z.int().min(1), from: step.default(0) }),
]);
export type TrafficPattern = z.infer<typeof patternSchema>;

export const scenarioSchema = z.strictObject({
  name,
  description: z.string().optional(),
  /** Scenario seconds per step; one step is meant to be one telemetry window. */
  stepSeconds: z.number().positive().default(10),
  steps: z.int().min(1),
  /** Later entries override earlier ones for the same machine and module. */
  traffic: z.array(z.strictObject({ selector: scenarioSelectorSchema, module: z.string().min(1), pattern: patternSchema })).min(1),
  /** Things that happen to machines at a step: `release` takes them out of Deployed in MAAS. */
  events: z.array(z.strictObject({ at: step, release: z.array(name).min(1) })).default([]),
});
export type Scenario = z.infer<typeof scenarioSchema>;

/** A scenario file that does not parse, with the field it points at. */
export class ScenarioFileError extends Error {
  readonly code = 'invalid_scenario';
  constructor(
    readonly file: string,
    readonly field: string,
    message: string,
  ) {
    super(`${file}: ${field}: ${message}`);
  }
}

export function parseScenario(text: string, file = 'scenario'): Scenario {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (e) {
    throw new ScenarioFileError(file, 'yaml', (e as Error).message);
  }
  const r = scenarioSchema.safeParse(doc);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new ScenarioFileError(file, i.path.join('.') || 'scenario', i.message);
  }
  return r.data;
}

export function loadScenario(file: string): Scenario {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ScenarioFileError(file, 'file', (e as Error).message);
  }
  return parseScenario(text, file);
}

export function ppsAt(p: TrafficPattern, step: number): number {
  switch (p.kind) {
    case 'constant':
      return p.pps;
    case 'surge':
      return step >= p.from && step < p.from + p.steps ? p.base * p.factor : p.base;
    case 'ramp': {
      if (step <= p.from) return p.start;
      if (step >= p.to) return p.end;
      return p.start + ((p.end - p.start) * (step - p.from)) / (p.to - p.from);
    }
    case 'oscillate':
      return step < p.from ? p.low : Math.floor((step - p.from) / p.period) % 2 === 0 ? p.low : p.high;
  }
}

export interface ScenarioMachine {
  hostname: string;
  zone: string;
  pool: string;
  tags: string[];
}

function matches(m: ScenarioMachine, s: z.infer<typeof scenarioSelectorSchema>): boolean {
  if (s.zones?.length && !s.zones.includes(m.zone)) return false;
  if (s.pools?.length && !s.pools.includes(m.pool)) return false;
  if (s.hostnames?.length && !s.hostnames.includes(m.hostname)) return false;
  if (s.tags?.length && !s.tags.every((t) => m.tags.includes(t))) return false;
  return true;
}

/** Module -> pps the scenario gives this machine at `step` (modules it does not name are absent). */
export function trafficAt(sc: Scenario, m: ScenarioMachine, step: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of sc.traffic) if (matches(m, t.selector)) out[t.module] = ppsAt(t.pattern, step);
  return out;
}
