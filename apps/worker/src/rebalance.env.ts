import { z } from 'zod';

const schema = z.object({
  /** One telemetry window: how often the fleet's counters are sampled. */
  IOPLANE_TELEMETRY_WINDOW_MS: z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(100, 'must be at least 100 ms')
    .default(10_000),
  /** Windows kept per machine. */
  IOPLANE_TELEMETRY_WINDOWS: z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(2, 'must be at least 2')
    .max(10_000, 'must be at most 10000')
    .default(60),
});

export interface RebalanceSettings {
  windowMs: number;
  keepWindows: number;
  /** Telemetry keys of a machine no longer sampled expire after this (twice the kept span, at least a minute). */
  ttlSeconds: number;
}

/** Rebalancing settings from the environment, validated at boot with the variable named. */
export function rebalanceSettings(env: NodeJS.ProcessEnv = process.env): RebalanceSettings {
  const r = schema.safeParse(env);
  if (!r.success) {
    const i = r.error.issues[0];
    throw new Error(`invalid environment variable ${i.path.join('.')}: ${i.message}`);
  }
  const { IOPLANE_TELEMETRY_WINDOW_MS: windowMs, IOPLANE_TELEMETRY_WINDOWS: keepWindows } = r.data;
  return { windowMs, keepWindows, ttlSeconds: Math.max(60, Math.ceil((2 * windowMs * keepWindows) / 1000)) };
}
