import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import type Redis from 'ioredis';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentToken, AgentClient } from '@ioplane/agent-api';
import { loadOrCreateSecret, loadOrCreateSigningKeys } from '@ioplane/runtime';
import { RedisConnections } from '@ioplane/queue';
import { StateKeys, TokenRepository } from '@ioplane/state';
import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger';
import type { DestinationStream } from 'pino';
import { randomUUID } from 'node:crypto';
import { loadConfig, IoplaneConfig } from '@ioplane/runtime';
import { createApi, listen } from '../apps/api/src/api.app';
import { createWorker } from '../apps/worker/src/worker.app';
import { startMaasSimulator, MaasSimulator } from '../apps/fleet-sim/src';
import { runEntry, type EntryRun } from './ts-entry.fixture';

export const FLEET_FILE = 'fleets/demo.yaml';

/** A prefix of its own per test file, so files share one Redis without seeing each other. */
export function testConfig(overrides: Record<string, string> = {}): IoplaneConfig {
  return loadConfig({
    REDIS_URL: process.env.REDIS_URL,
    IOPLANE_PREFIX: `e2e-${randomUUID().slice(0, 8)}`,
    API_PORT: '0',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'silent',
    // Tests walk every endpoint without a token from one address; the refusal throttle has its own test (hardening).
    API_REFUSED_LIMIT: '100000',
    // Every answer of every e2e test is checked against the operation's documented schema.
    IOPLANE_CHECK_RESPONSES: 'on',
    ...overrides,
  });
}

/** The admin token of each running harness API, so helpers authenticate by default. */
const tokensByApi = new Map<string, string>();

/** Another API on the harness's Redis (a process of its own) takes the same admin token; null forgets it. */
export function registerApi(url: string, token: string | null): void {
  if (token) tokensByApi.set(url, token);
  else tokensByApi.delete(url);
}

export interface Harness {
  /** An admin token created for this harness. */
  token: string;
  config: IoplaneConfig;
  /** The installation's state keys (hash-tagged: `{prefix}:state:…`). */
  keys: StateKeys;
  sim: MaasSimulator;
  apiUrl: string;
  redis: Redis;
  /** The in-process worker; null with `worker: false` until startWorker() makes one. */
  worker: INestApplicationContext | null;
  api: INestApplication;
  /** Signing key pair (the agents trust its public key) and the agent token secret. */
  keysDir: string;
  /** MAAS endpoint the worker uses (for a worker started as a child process). */
  maas: { url: string; apiKey: string };
  /**
   * Starts an in-process worker (closed by stop()). `keysDir` signs with other keys (a worker
   * the agents do not trust); the first one started becomes `worker` when there is none.
   */
  startWorker(o?: { keysDir?: string }): Promise<INestApplicationContext>;
  /** An HTTP client for the agent of a simulated host, with its token. */
  agent(systemId: string): AgentClient;
  stop(): Promise<void>;
}

/** The real stack in-process: MAAS simulator over HTTP, worker and API on a real Redis. */
export async function startHarness(
  opts: {
    apiKey?: string;
    maasRetry?: { maxAttempts?: number; initialDelayMs?: number; maxDelayMs?: number };
    logLevel?: string;
    logDestination?: DestinationStream;
    /** Host agents in the simulator; emulated devices unless kernel: 'auto'. */
    agents?: false | { kernel?: 'auto' | 'off'; timeScale?: number };
    /** A Redis of the test's own (readiness tests stop it). */
    redisUrl?: string;
    /** Extra environment for the stack's config (e.g. API_RATE_LIMIT). */
    env?: Record<string, string>;
    probeMs?: number;
    /** false: no in-process worker at first (a test runs one as a child process, or calls startWorker()). */
    worker?: boolean;
  } = {},
): Promise<Harness> {
  // nestjs-pino keeps one logger per process; each harness brings its own.
  __resetOutOfContextForTests();
  const keysDir = mkdtempSync(join(tmpdir(), 'ioplane-keys-'));
  const agentOpts = opts.agents === false ? null : { kernel: 'off' as const, timeScale: 0.002, ...(opts.agents ?? {}) };
  const sim = await startMaasSimulator({
    fleetFile: FLEET_FILE,
    port: 0,
    timeScale: 0.01,
    agents: agentOpts
      ? {
          publicKeyPem: loadOrCreateSigningKeys(keysDir).publicKeyPem,
          tokenSecret: loadOrCreateSecret(keysDir, 'agent-token.secret'),
          port: 0,
          kernel: agentOpts.kernel,
          timeScale: agentOpts.timeScale,
          logLevel: 'silent',
        }
      : undefined,
  });
  // A harness that fails halfway closes what it started: the test never gets `h`, so its afterAll
  // could not, and the simulator's agents and an in-process worker would keep jest alive.
  const started: Array<() => Promise<unknown>> = [() => sim.close()];
  try {
    const config = testConfig({
      ...(opts.env ?? {}),
      ...(opts.logLevel ? { LOG_LEVEL: opts.logLevel } : {}),
      ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
      IOPLANE_KEYS_DIR: keysDir,
      AGENT_PORT: String(sim.agentPort || 9440),
    });
    const redisUrl = config.REDIS_URL!;
    const maas = {
      url: sim.url,
      apiKey: opts.apiKey ?? sim.apiKey,
      retry: opts.maasRetry ?? { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 100 },
    };
    const workers: INestApplicationContext[] = [];
    const startWorker = async (o: { keysDir?: string } = {}) => {
      const w = await createWorker({
        config: o.keysDir ? { ...config, IOPLANE_KEYS_DIR: o.keysDir } : config,
        redisUrl,
        name: 'worker',
        maas,
        schedules: false,
        logDestination: opts.logDestination,
        probeMs: opts.probeMs ?? 50,
      });
      workers.push(w);
      return w;
    };
    started.unshift(async () => {
      for (const w of workers) await w.close();
    });
    const worker = opts.worker === false ? null : await startWorker();
    const api = await createApi({ config, redisUrl, name: 'api', logDestination: opts.logDestination });
    started.unshift(() => api.close());
    const apiUrl = await listen(api, '127.0.0.1', 0);
    // Whatever the deployment (one server, Sentinel, Cluster), as the apps connect.
    const connections = new RedisConnections(redisUrl);
    started.unshift(() => connections.close());
    const redis = connections.client('producer', { enableOfflineQueue: true, maxRetriesPerRequest: 20 });
    // Fault tests take Redis away on purpose; a command that fails still rejects where it was sent.
    redis.on('error', () => undefined);
    const tokenSecret = loadOrCreateSecret(keysDir, 'agent-token.secret');
    const { token } = await new TokenRepository(redis, config.IOPLANE_PREFIX).create('e2e-admin', 'admin');
    tokensByApi.set(apiUrl, token);
    const h: Harness = {
      token,
      config,
      keys: new StateKeys(config.IOPLANE_PREFIX),
      sim,
      apiUrl,
      redis,
      worker,
      api,
      keysDir,
      maas: { url: maas.url, apiKey: maas.apiKey },
      async startWorker(o) {
        const w = await startWorker(o);
        h.worker ??= w;
        return w;
      },
      agent(systemId) {
        const m = sim.store.get(systemId);
        const agent = sim.agents.get(systemId);
        if (!agent) throw new Error(`no agent for ${m.hostname}`);
        return new AgentClient(agent.url, agentToken(tokenSecret, systemId));
      },
      async stop() {
        tokensByApi.delete(apiUrl);
        await api.close();
        for (const w of workers) await w.close();
        await sim.close();
        // Every key of the installation carries its hash tag: state under {prefix}:state, queues under {prefix}.
        const keys = connections.isCluster ? [] : await redis.keys(`{${config.IOPLANE_PREFIX}}:*`);
        if (keys.length) await redis.del(...keys);
        await connections.close();
        rmSync(keysDir, { recursive: true, force: true });
      },
    };
    return h;
  } catch (e) {
    for (const close of started) await close().catch(() => undefined);
    rmSync(keysDir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * A placement as tests submit it to the harness's default agents, which have no kernel: their
 * probes and vectors cannot run, so the request accepts not-run explicitly, as the demo does
 * without root (modeled counters otherwise fail the health check).
 */
export function acceptingNotRun<T extends object>(req: T): T & { policy: Record<string, unknown> } {
  const policy = (req as { policy?: Record<string, unknown> }).policy ?? {};
  return { ...req, policy: { ...policy, acceptNotRun: true } };
}

/** A machine of a placement's rollout, as the API reports it. */
export interface RolloutMachine {
  systemId: string;
  hostname: string;
  wave: number;
  state: string;
  reason: string | null;
}

/** Firmware profile per flashable device, as the machine's agent reports it. */
export async function firmwareOf(h: Harness, systemId: string): Promise<Record<string, string>> {
  const { devices } = await h.agent(systemId).programs();
  return Object.fromEntries(devices.filter((d) => d.firmware).map((d) => [d.deviceId, d.firmware!.profileId]));
}

/** Polls the placement through the API until its status is one of `done`; fails after `limit` polls. */
export async function waitStatus(h: Harness, id: string, done: string[], limit = 1200) {
  for (let i = 0; ; i++) {
    const p = (await http(h.apiUrl, 'GET', `/v1/placements/${id}`)).body;
    if (done.includes(p.status)) return p;
    if (i > limit) throw new Error(`placement ${id} stuck in ${p.status}: ${JSON.stringify(p.rollout?.counts)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Reads the inventory from MAAS (and the agents) through the worker. */
export async function syncFleet(h: Harness) {
  const { body } = await http(h.apiUrl, 'POST', '/v1/fleet/sync', {});
  expect((await waitJob(h.apiUrl, body.jobId)).state).toBe('completed');
}

/** A harness with the fleet synced, as most tests begin; stopped again if the sync fails. */
export async function startSyncedHarness(opts?: Parameters<typeof startHarness>[0]): Promise<Harness> {
  const h = await startHarness(opts);
  try {
    await syncFleet(h);
  } catch (e) {
    await h.stop().catch(() => undefined);
    throw e;
  }
  return h;
}

/** Calls the API with the harness's admin token unless `headers` say otherwise (pass `authorization: ''` for none). */
export async function http<T = any>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: T }> {
  const token = tokensByApi.get(base.replace(/\/$/, ''));
  const auth: Record<string, string> =
    'authorization' in headers
      ? headers.authorization
        ? { authorization: headers.authorization }
        : {}
      : token
        ? { authorization: `Bearer ${token}` }
        : {};
  const { authorization: _drop, ...rest } = headers;
  const res = await fetch(new URL(path, base), {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...auth, ...rest },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    // Not JSON (/metrics, the fleet map): the raw text.
  }
  return { status: res.status, body: parsed as T };
}

/** Polls the job through the API until it ends; jest's own timeout bounds a hang. */
export async function waitJob(base: string, id: string): Promise<any> {
  for (;;) {
    const { body } = await http(base, 'GET', `/v1/jobs/${id}`);
    if (body.state === 'completed' || body.state === 'failed') return body;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The example chain as a placement request on the harness's fleet (its zones), ingress order:
 * NIC-friendly modules first, so the host-only DDoS filter does not pull them onto the host. The
 * harness's agents run without a kernel: every hop is modeled and its probe cannot run, which the
 * placement must accept in so many words.
 */
export const CHAIN_REQUEST = {
  selector: { zones: ['zone-a', 'zone-b'] },
  modules: [
    { name: 'acl-firewall' },
    { name: 'l4-lb', traffic: { pps: 2_000_000, meanPacketBytes: 400 } },
    { name: 'ddos-drop', latencyBudgetUs: 20 },
  ],
  policy: { acceptNotRun: true },
};

/** Runs the CLI as an operator would: a separate process speaking HTTP to the API. */
export function runCli(args: string[], timeoutMs = 60_000): Promise<EntryRun> {
  const api = args[args.indexOf('--api') + 1];
  const token = args.includes('--api') ? tokensByApi.get(api) : undefined;
  return runEntry(['apps/cli/src/main.ts', ...args], { env: token ? { IOPLANE_TOKEN: token } : {}, timeoutMs });
}

/** The system_id of a simulated host by hostname. */
export function hostId(h: Harness, hostname: string): string {
  const m = h.sim.model.hosts.find((x) => x.hostname === hostname);
  if (!m) throw new Error(`no host ${hostname} in ${FLEET_FILE}`);
  return m.systemId;
}

/** Polls `probe` every 50 ms until it returns something truthy; fails with `what` after `ms`. */
export async function until<T>(what: string | (() => string), probe: () => Promise<T | null | undefined | false>, ms = 30_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${typeof what === 'function' ? what() : what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Chains an agent runs that contain any of `modules` (by name), as `device/port: a,b`. */
export async function chainsOf(h: Harness, systemId: string, modules: string[]): Promise<string[]> {
  const { devices } = await h.agent(systemId).programs();
  return devices.flatMap((d) =>
    d.ports
      .filter((p) => p.current?.modules.some((m) => modules.includes(m.name)) || p.previous?.modules.some((m) => modules.includes(m.name)))
      .map((p) => `${d.deviceId}/${p.port}: ${(p.current?.modules ?? []).map((m) => m.name).join(',')}`),
  );
}
