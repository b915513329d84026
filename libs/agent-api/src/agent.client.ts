import type { z } from 'zod';
import { CodedError, type MatchActionForm, type Target } from '@ioplane/domain';
import { faultsResponseSchema, type FaultsBody, type FlashBody, type LoadBody, type VectorsBody, type XdpHook } from './agent.schemas';
import {
  agentErrorBodySchema,
  commitResultSchema,
  detachResultSchema,
  deviceCountersSchema,
  flashResultSchema,
  healthResponseSchema,
  inventoryResponseSchema,
  loadResultSchema,
  probeResultSchema,
  programsResponseSchema,
  rollbackResultSchema,
  vectorsResultSchema,
} from './agent.responses';
import { signArtifact, sha256Hex } from './artifact.signature';
import { AgentDeadlines, DEFAULT_AGENT_DEADLINES } from './agent.deadlines';

/**
 * An error the agent answered with (its code, HTTP status and field), or the client's own:
 * `agent_timeout` (no answer within the deadline), `bad_response` (an answer outside the contract).
 */
export class AgentError extends CodedError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    field?: string,
    readonly details?: unknown,
  ) {
    super(code, message, field);
  }
}

export interface SignedModuleInput {
  name: string;
  version: string;
  program: string;
  object: Buffer;
  persistentMaps?: string[];
  pps?: number;
  matchAction?: MatchActionForm;
}

/** Builds a load body: digest over the exact bytes, signed with the worker's private key. */
export function signedLoadBody(
  target: Target,
  modules: SignedModuleInput[],
  privateKeyPem: string,
  port = 0,
  place: { hook?: XdpHook; interface?: string } = {},
): LoadBody {
  return {
    target,
    port,
    ...(place.hook ? { hook: place.hook } : {}),
    ...(place.interface ? { interface: place.interface } : {}),
    modules: modules.map((m) => {
      const digest = sha256Hex(m.object);
      return {
        name: m.name,
        version: m.version,
        program: m.program,
        digest,
        signature: signArtifact(digest, privateKeyPem),
        object: m.object.toString('base64'),
        persistentMaps: m.persistentMaps ?? [],
        pps: m.pps,
        ...(m.matchAction ? { matchAction: m.matchAction } : {}),
      };
    }),
  };
}

/** Typed fetch client for one agent's `/v1` API; every call has a deadline (see AgentDeadlines). */
export class AgentClient {
  private readonly base: string;
  private readonly deadlines: AgentDeadlines;

  constructor(
    url: string,
    private readonly token: string,
    /** `timeoutMs` alone bounds every call (short probes); `deadlines` sets them per kind of call. */
    opts: { timeoutMs?: number; deadlines?: Partial<AgentDeadlines> } = {},
  ) {
    this.base = url.replace(/\/+$/, '');
    const flat = opts.timeoutMs;
    this.deadlines = {
      ...DEFAULT_AGENT_DEADLINES,
      // A flat bound is a probe's total budget (fleet sync, telemetry, facts): one attempt, no retries.
      ...(flat !== undefined ? { readMs: flat, changeMs: flat, flashMs: () => flat, firmwareRollbackMs: flat, readAttempts: 1 } : {}),
      ...(opts.deadlines ?? {}),
    };
  }

  /** GETs change nothing, so a transport error, a timeout or a 5xx is retried with backoff; nothing else is. */
  private async call<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    deadlineMs: number,
    token = this.token,
  ): Promise<z.output<S>> {
    const attempts = method === 'GET' ? Math.max(1, this.deadlines.readAttempts) : 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(schema, method, path, body, signal, deadlineMs, token);
      } catch (e) {
        const retryable = !(e instanceof AgentError) || e.status >= 500;
        if (attempt >= attempts || !retryable || signal?.aborted) throw e;
        await new Promise((r) => setTimeout(r, this.deadlines.retryDelayMs * 2 ** (attempt - 1)));
      }
    }
  }

  private async once<S extends z.ZodType>(
    schema: S,
    method: string,
    path: string,
    body: unknown,
    signal: AbortSignal | undefined,
    deadlineMs: number,
    token: string,
  ): Promise<z.output<S>> {
    const timeout = AbortSignal.timeout(deadlineMs);
    try {
      const res = await fetch(`${this.base}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const text = await res.text();
      const json = text ? (JSON.parse(text) as unknown) : undefined;
      if (!res.ok) {
        const e = agentErrorBodySchema.safeParse(json).data?.error;
        throw new AgentError(res.status, e?.code ?? 'http_error', e?.message ?? `HTTP ${res.status}`, e?.field, e?.details);
      }
      // An answer outside the contract is the agent's fault, named by its first wrong field, not a crash further on.
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const field = issue.path.map(String).join('.') || 'body';
        throw new AgentError(
          502,
          'bad_response',
          `agent ${this.base} answered ${method} ${path} outside the contract: ${field}: ${issue.message}`,
          field,
        );
      }
      return parsed.data;
    } catch (e) {
      // Our deadline, not the caller's cancel: the agent is silent (hung, or the host is gone).
      if (timeout.aborted && !signal?.aborted)
        throw new AgentError(504, 'agent_timeout', `agent ${this.base} did not answer ${method} ${path} within ${deadlineMs} ms`);
      throw e;
    }
  }

  private dev(id: string, op: string): string {
    return `/v1/devices/${encodeURIComponent(id)}/${op}`;
  }

  health() {
    return this.call(healthResponseSchema, 'GET', '/healthz', undefined, undefined, this.deadlines.readMs);
  }
  inventory() {
    return this.call(inventoryResponseSchema, 'GET', '/v1/inventory', undefined, undefined, this.deadlines.readMs);
  }
  programs() {
    return this.call(programsResponseSchema, 'GET', '/v1/programs', undefined, undefined, this.deadlines.readMs);
  }
  load(deviceId: string, body: LoadBody, signal?: AbortSignal) {
    return this.call(loadResultSchema, 'POST', this.dev(deviceId, 'load'), body, signal, this.deadlines.changeMs);
  }
  detach(deviceId: string, port = 0) {
    return this.call(detachResultSchema, 'POST', this.dev(deviceId, 'detach'), { port }, undefined, this.deadlines.changeMs);
  }
  commit(deviceId: string, port = 0) {
    return this.call(commitResultSchema, 'POST', this.dev(deviceId, 'commit'), { port }, undefined, this.deadlines.changeMs);
  }
  flash(deviceId: string, body: FlashBody, signal?: AbortSignal) {
    return this.call(flashResultSchema, 'POST', this.dev(deviceId, 'flash'), body, signal, this.deadlines.flashMs(body));
  }
  rollback(deviceId: string, body: { port?: number; scope?: 'program' | 'firmware' } = {}, signal?: AbortSignal) {
    return this.call(
      rollbackResultSchema,
      'POST',
      this.dev(deviceId, 'rollback'),
      body,
      signal,
      body.scope === 'program' ? this.deadlines.changeMs : this.deadlines.firmwareRollbackMs,
    );
  }
  runVectors(deviceId: string, body: VectorsBody) {
    return this.call(vectorsResultSchema, 'POST', this.dev(deviceId, 'run-vectors'), body, undefined, this.deadlines.changeMs);
  }
  probe(deviceId: string, port = 0, packets = 50) {
    return this.call(probeResultSchema, 'POST', this.dev(deviceId, 'probe'), { port, packets }, undefined, this.deadlines.changeMs);
  }
  counters(deviceId: string) {
    return this.call(deviceCountersSchema, 'GET', this.dev(deviceId, 'counters'), undefined, undefined, this.deadlines.readMs);
  }
  /** Only agents run by the simulator have this endpoint, and it takes the simulator's fault token, not the agent token. */
  setFaults(body: FaultsBody, faultToken: string) {
    return this.call(faultsResponseSchema, 'PUT', '/v1/faults', body, undefined, this.deadlines.changeMs, faultToken);
  }
}
