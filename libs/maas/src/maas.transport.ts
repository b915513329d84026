import * as http from 'node:http';
import * as https from 'node:https';
import {
  BrokenCircuitError,
  CircuitBreakerPolicy,
  CircuitState,
  ConsecutiveBreaker,
  DelegateBackoff,
  IRetryBackoffContext,
  circuitBreaker,
  handleWhen,
  retry,
} from 'cockatiel';
import { z } from 'zod';
import {
  MaasAuthError,
  MaasConfigError,
  MaasConflictError,
  MaasError,
  MaasForbiddenError,
  MaasNotFoundError,
  MaasUnavailableError,
  MaasValidationError,
  describeFieldErrors,
  parseFieldErrors,
} from './maas.errors';
import { MaasCredentials, parseApiKey, signWith } from './maas.oauth';
import { Params, RawResponse, encodeParams, exchange, normaliseBaseUrl, parseRetryAfter } from './maas.request';

export type { Params, ParamValue } from './maas.request';

export interface RetryInfo {
  /** 1-based number of the attempt that just failed; the next one is attempt + 1. */
  attempt: number;
  delayMs: number;
  reason: string;
  path: string;
}

export interface MaasClientOptions {
  /** MAAS base like http://host:5240/MAAS/ or http://host:5240/MAAS/api/2.0/ (both accepted). */
  url: string;
  /** consumer_key:token_key:token_secret */
  apiKey: string;
  /** Per HTTP attempt, default 30000. */
  timeoutMs?: number;
  retry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number };
  breaker?: { consecutiveFailures?: number; halfOpenAfterMs?: number };
  userAgent?: string;
  onRetry?: (info: RetryInfo) => void;
  /** Called once per logical call (after retries): for latency and error metrics. */
  onCall?: (info: { method: string; op: string; ok: boolean; code: string | null; seconds: number }) => void;
}

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Relative to the api/2.0/ root, e.g. `machines/abc/`. */
  path: string;
  op?: string;
  query?: Params;
  form?: Params;
  /**
   * Whether repeating the request after a connection reset or timeout is harmless.
   * Defaults to true for GET only: a POST that may have reached MAAS (allocate, deploy)
   * must not be replayed blindly.
   */
  idempotent?: boolean;
  /** version/ needs no credentials. */
  anonymous?: boolean;
  signal?: AbortSignal;
}

const DEFAULTS = {
  timeoutMs: 30_000,
  maxAttempts: 5,
  initialDelayMs: 500,
  maxDelayMs: 30_000,
  consecutiveFailures: 5,
  halfOpenAfterMs: 30_000,
};

/** Codes where the request surely never reached MAAS, so any method may be retried. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);
const BODY_EXCERPT = 500;

/** A failure of the transport or of MAAS itself (as opposed to a rejection of the request). */
class TransientFailure extends Error {
  constructor(
    readonly reason: string,
    readonly retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(reason);
  }
}

const isTransient = (e: unknown): e is TransientFailure => e instanceof TransientFailure;

function excerpt(body: string): string {
  const t = body.trim();
  return t.length > BODY_EXCERPT ? `${t.slice(0, BODY_EXCERPT)}…` : t;
}

function formatIssuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

export class MaasTransport {
  readonly baseUrl: URL;
  private readonly creds: MaasCredentials;
  private readonly opts: typeof DEFAULTS & Pick<MaasClientOptions, 'userAgent' | 'onRetry' | 'onCall'>;
  private readonly agent: http.Agent;
  private readonly oneShotAgent: http.Agent;
  private readonly breaker: CircuitBreakerPolicy;

  constructor(options: MaasClientOptions) {
    this.creds = parseApiKey(options.apiKey);
    this.baseUrl = normaliseBaseUrl(options.url);
    const positive = (v: number | undefined, name: string, fallback: number, min = 1) => {
      if (v === undefined) return fallback;
      if (!Number.isFinite(v) || v < min) throw new MaasConfigError(`${name} must be a number >= ${min}`, name);
      return v;
    };
    this.opts = {
      timeoutMs: positive(options.timeoutMs, 'timeoutMs', DEFAULTS.timeoutMs),
      maxAttempts: Math.floor(positive(options.retry?.maxAttempts, 'retry.maxAttempts', DEFAULTS.maxAttempts)),
      initialDelayMs: positive(options.retry?.initialDelayMs, 'retry.initialDelayMs', DEFAULTS.initialDelayMs, 0),
      maxDelayMs: positive(options.retry?.maxDelayMs, 'retry.maxDelayMs', DEFAULTS.maxDelayMs, 0),
      consecutiveFailures: Math.floor(
        positive(options.breaker?.consecutiveFailures, 'breaker.consecutiveFailures', DEFAULTS.consecutiveFailures),
      ),
      halfOpenAfterMs: positive(options.breaker?.halfOpenAfterMs, 'breaker.halfOpenAfterMs', DEFAULTS.halfOpenAfterMs, 0),
      userAgent: options.userAgent,
      onRetry: options.onRetry,
      onCall: options.onCall,
    };
    const Agent = this.baseUrl.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new Agent({ keepAlive: true });
    // Non-idempotent POSTs get a new connection: a pooled socket that the server has
    // just closed would fail with ECONNRESET, and such a POST cannot be retried.
    this.oneShotAgent = new Agent({ keepAlive: false });
    // The breaker sees whole retried calls: it opens only when MAAS stays unreachable
    // through the retries, and then spares MAAS (and the caller) further attempts.
    this.breaker = circuitBreaker(handleWhen(isTransient), {
      halfOpenAfter: this.opts.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(this.opts.consecutiveFailures),
    });
  }

  /** Frees pooled sockets. The client stays usable; new sockets are opened on demand. */
  close(): void {
    this.agent.destroy();
    this.oneShotAgent.destroy();
  }

  get circuitState(): 'closed' | 'open' | 'half-open' | 'isolated' {
    const names = {
      [CircuitState.Closed]: 'closed',
      [CircuitState.Open]: 'open',
      [CircuitState.HalfOpen]: 'half-open',
      [CircuitState.Isolated]: 'isolated',
    } as const;
    return names[this.breaker.state];
  }

  async request<S extends z.ZodType>(spec: RequestSpec, schema: S): Promise<z.output<S>> {
    const { body } = await this.send(spec);
    const label = this.label(spec);
    let json: unknown;
    try {
      json = body.trim() === '' ? null : JSON.parse(body);
    } catch {
      throw new MaasError('bad_response', `MAAS answered ${label} with a body that is not JSON: ${this.redact(excerpt(body))}`, {
        path: label,
      });
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = formatIssuePath(issue.path);
      throw new MaasError('bad_response', `MAAS response for ${label} is malformed at ${field}: ${issue.message}`, {
        path: label,
        field,
        cause: parsed.error,
      });
    }
    return parsed.data;
  }

  /** Sends with retry inside a circuit breaker; resolves only for 2xx. */
  async send(spec: RequestSpec): Promise<RawResponse> {
    const started = performance.now();
    // Metrics see the path's resource kind, never ids (bounded label cardinality).
    const op = `${spec.path.replace(/\/[a-z0-9]{6}\//g, '/{id}/')}${spec.op ? `?op=${spec.op}` : ''}`;
    try {
      const r = await this.sendOnce(spec);
      this.opts.onCall?.({ method: spec.method, op, ok: true, code: null, seconds: (performance.now() - started) / 1000 });
      return r;
    } catch (e) {
      this.opts.onCall?.({
        method: spec.method,
        op,
        ok: false,
        code: (e as { code?: string }).code ?? 'error',
        seconds: (performance.now() - started) / 1000,
      });
      throw e;
    }
  }

  private async sendOnce(spec: RequestSpec): Promise<RawResponse> {
    const label = this.label(spec);
    const idempotent = spec.idempotent ?? spec.method === 'GET';
    let attempts = 0;
    const maxDelay = this.opts.maxDelayMs;
    const initial = this.opts.initialDelayMs;
    const policy = retry(
      handleWhen((e) => isTransient(e) && e.retryable),
      {
        maxAttempts: this.opts.maxAttempts - 1,
        backoff: new DelegateBackoff<IRetryBackoffContext<unknown>>((ctx) => {
          const err = 'error' in ctx.result ? ctx.result.error : undefined;
          if (isTransient(err) && err.retryAfterMs !== undefined) return Math.min(err.retryAfterMs, maxDelay);
          // "equal jitter": at least half the exponential step, so retries never bunch up at 0
          const step = Math.min(maxDelay, initial * 2 ** (ctx.attempt - 1));
          return Math.round(step / 2 + (Math.random() * step) / 2);
        }),
      },
    );
    const onRetry = this.opts.onRetry;
    if (onRetry) {
      policy.onRetry((ev) => {
        const reason = 'error' in ev ? (ev.error as Error).message : 'unexpected result';
        onRetry({ attempt: ev.attempt, delayMs: ev.delay, reason, path: label });
      });
    }
    try {
      return await this.breaker.execute(
        () =>
          policy.execute(() => {
            attempts += 1;
            return this.attemptOnce(spec, idempotent);
          }, spec.signal),
        spec.signal,
      );
    } catch (err) {
      if (err instanceof BrokenCircuitError) {
        throw new MaasUnavailableError(`MAAS unavailable: circuit open after repeated failures, ${label} not attempted`, 0, {
          path: label,
          cause: err,
        });
      }
      if (isTransient(err)) {
        throw new MaasUnavailableError(`MAAS unavailable for ${label} after ${attempts} attempt(s): ${err.reason}`, attempts, {
          status: err.status,
          path: label,
        });
      }
      throw err;
    }
  }

  private label(spec: RequestSpec): string {
    return `${spec.method} ${spec.path}${spec.op ? `?op=${spec.op}` : ''}`;
  }

  private redact(text: string): string {
    let out = text;
    for (const secret of [this.creds.tokenSecret, this.creds.tokenKey, this.creds.consumerKey]) {
      if (secret.length >= 4) out = out.split(secret).join('***');
    }
    return out;
  }

  private async attemptOnce(spec: RequestSpec, idempotent: boolean): Promise<RawResponse> {
    spec.signal?.throwIfAborted();
    const url = new URL(spec.path.replace(/^\/+/, ''), this.baseUrl);
    const query = new URLSearchParams();
    if (spec.op) query.append('op', spec.op);
    encodeParams(spec.query, query);
    url.search = query.toString();
    const payload = spec.method === 'GET' || spec.method === 'DELETE' ? undefined : encodeParams(spec.form).toString();

    const headers: http.OutgoingHttpHeaders = { Accept: 'application/json' };
    if (this.opts.userAgent) headers['User-Agent'] = this.opts.userAgent;
    // signed per attempt: MAAS rejects a reused nonce as a replay
    if (!spec.anonymous) headers.Authorization = signWith(this.creds);
    if (payload !== undefined) {
      headers['Content-Type'] = 'application/x-www-form-urlencoded';
      headers['Content-Length'] = Buffer.byteLength(payload);
    }

    const timeout = AbortSignal.timeout(this.opts.timeoutMs);
    const signal = spec.signal ? AbortSignal.any([spec.signal, timeout]) : timeout;
    let res: RawResponse;
    try {
      res = await exchange(url, spec.method, headers, payload, signal, idempotent ? this.agent : this.oneShotAgent);
    } catch (err) {
      if (spec.signal?.aborted) throw spec.signal.reason;
      if (timeout.aborted) {
        throw new TransientFailure(`timed out after ${this.opts.timeoutMs} ms`, idempotent);
      }
      const e = err as NodeJS.ErrnoException;
      const code = e.code ?? 'ERR';
      const notSent = NOT_SENT_CODES.has(code);
      throw new TransientFailure(`connection error ${code}: ${e.message}`, notSent || idempotent);
    }
    return this.classify(spec, res);
  }

  private classify(spec: RequestSpec, res: RawResponse): RawResponse {
    const { status } = res;
    if (status >= 200 && status < 300) return res;
    const label = this.label(spec);
    const body = this.redact(excerpt(res.body));
    const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
    const details = { status, path: label };
    switch (status) {
      case 400: {
        const fieldErrors = parseFieldErrors(this.redact(res.body));
        const field = Object.keys(fieldErrors).find((k) => k !== '__all__');
        throw new MaasValidationError(`MAAS rejected ${label} (400): ${describeFieldErrors(fieldErrors) || body}`, {
          ...details,
          field,
          fieldErrors,
        });
      }
      case 401:
        throw new MaasAuthError(`MAAS rejected the API key (401): ${body}`, details);
      case 403:
        throw new MaasForbiddenError(`MAAS refused ${label} (403): ${body}`, details);
      case 404:
        throw new MaasNotFoundError(`MAAS found nothing for ${label} (404): ${body}`, details);
      case 409:
        // with Retry-After it is a database serialisation conflict, not a state violation
        if (retryAfterMs !== undefined) {
          throw new TransientFailure(`409 conflict, retry after ${retryAfterMs} ms: ${body}`, true, status, retryAfterMs);
        }
        throw new MaasConflictError(`MAAS refused ${label} in the current state (409): ${body}`, details);
      case 503:
        throw new TransientFailure(`503 Service Unavailable: ${body}`, true, status, retryAfterMs);
      case 502:
      case 504:
        // a POST may have been applied behind the gateway, so only reads are repeated
        throw new TransientFailure(`${status} gateway error: ${body}`, spec.method === 'GET', status, retryAfterMs);
    }
    if (status >= 500) throw new TransientFailure(`${status} server error: ${body}`, false, status);
    throw new MaasError('bad_response', `MAAS answered ${label} with unexpected status ${status}: ${body}`, details);
  }
}
