/** Failures real MAAS regions produce, injectable so clients can prove they retry the right ones. */
export interface FaultSettings {
  /** Share (0..1) of requests answered 503 with Retry-After (rack controller unreachable). */
  unavailableRate: number;
  /** Retry-After sent with the 503. */
  retryAfterSeconds: number;
  /** Share answered 409 with `Retry-After: 5` (database serialization conflict). */
  conflictRate: number;
  /** Share answered 504. */
  gatewayTimeoutRate: number;
  /** Share whose socket is destroyed without an answer. */
  resetRate: number;
  /** Added before every answer. */
  delayMs: number;
  /** Share of deployments that end in Failed deployment instead of Deployed. */
  deployFailureRate: number;
}

export interface FaultControls {
  set(f: Partial<FaultSettings>): void;
  clear(): void;
  get(): FaultSettings;
}

export type FaultDecision =
  { kind: 'none' } | { kind: 'reset' } | { kind: 'respond'; status: number; body: string; headers: Record<string, string> };

export const NO_FAULTS: FaultSettings = {
  unavailableRate: 0,
  retryAfterSeconds: 10,
  conflictRate: 0,
  gatewayTimeoutRate: 0,
  resetRate: 0,
  delayMs: 0,
  deployFailureRate: 0,
};

const RATES = ['unavailableRate', 'conflictRate', 'gatewayTimeoutRate', 'resetRate', 'deployFailureRate'] as const;

export class FaultSettingsError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export class FaultInjector implements FaultControls {
  private settings: FaultSettings = { ...NO_FAULTS };

  constructor(private readonly random: () => number = Math.random) {}

  set(f: Partial<FaultSettings>): void {
    const next = { ...this.settings };
    for (const [k, v] of Object.entries(f)) {
      if (!(k in NO_FAULTS)) throw new FaultSettingsError(k, 'unknown fault setting');
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new FaultSettingsError(k, 'must be a number >= 0');
      if ((RATES as readonly string[]).includes(k) && v > 1) throw new FaultSettingsError(k, 'must be between 0 and 1');
      next[k as keyof FaultSettings] = v;
    }
    this.settings = next;
  }

  clear(): void {
    this.settings = { ...NO_FAULTS };
  }

  get(): FaultSettings {
    return { ...this.settings };
  }

  /** One draw per request, so the rates add up to the share of failed requests. */
  decide(): FaultDecision {
    const s = this.settings;
    let r = this.random();
    if ((r -= s.resetRate) < 0) return { kind: 'reset' };
    if ((r -= s.unavailableRate) < 0) {
      return {
        kind: 'respond',
        status: 503,
        body: 'Unable to connect to any rack controller; no connections available.',
        headers: { 'Retry-After': String(s.retryAfterSeconds) },
      };
    }
    if ((r -= s.conflictRate) < 0) {
      return { kind: 'respond', status: 409, body: 'Conflict error. Please retry the request.', headers: { 'Retry-After': '5' } };
    }
    if ((r -= s.gatewayTimeoutRate) < 0) return { kind: 'respond', status: 504, body: 'Gateway Timeout', headers: {} };
    return { kind: 'none' };
  }
}
