import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import Redis from 'ioredis';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSecret, loadOrCreateSigningKeys } from '@ioplane/devices';
import { __resetOutOfContextForTests } from 'nestjs-pino/PinoLogger';
import type { DestinationStream } from 'pino';
import { randomUUID } from 'node:crypto';
import { loadConfig, IoplaneConfig } from '@ioplane/runtime';
import { createApi, listen } from '../apps/api/src/api.app';
import { createWorker } from '../apps/worker/src/worker.app';
import { startMaasSimulator, MaasSimulator } from '../apps/fleet-sim/src';

export const FLEET_FILE = 'fleets/demo.yaml';

/** A prefix of its own per test file, so files share one Redis without seeing each other. */
export function testConfig(overrides: Record<string, string> = {}): IoplaneConfig {
  return loadConfig({
    REDIS_URL: process.env.REDIS_URL,
    IOPLANE_PREFIX: `e2e-${randomUUID().slice(0, 8)}`,
    API_PORT: '0',
    LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'silent',
    ...overrides,
  });
}

export interface Harness {
  config: IoplaneConfig;
  sim: MaasSimulator;
  apiUrl: string;
  redis: Redis;
  worker: INestApplicationContext;
  api: INestApplication;
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
    probeMs?: number;
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
      ? { publicKeyPem: loadOrCreateSigningKeys(keysDir).publicKeyPem, tokenSecret: loadOrCreateSecret(keysDir, 'agent-token.secret'), port: 0, kernel: agentOpts.kernel, timeScale: agentOpts.timeScale, logLevel: 'silent' }
      : undefined,
  });
  const config = testConfig({ ...(opts.logLevel ? { LOG_LEVEL: opts.logLevel } : {}), IOPLANE_KEYS_DIR: keysDir, AGENT_PORT: String(sim.agentPort || 9440) });
  const redisUrl = config.REDIS_URL!;
  const maas = { url: sim.url, apiKey: opts.apiKey ?? sim.apiKey, retry: opts.maasRetry ?? { maxAttempts: 3, initialDelayMs: 20, maxDelayMs: 100 } };
  const worker = await createWorker({ config, redisUrl, name: 'worker', maas, schedules: false, logDestination: opts.logDestination, probeMs: opts.probeMs ?? 50 });
  const api = await createApi({ config, redisUrl, name: 'api', logDestination: opts.logDestination });
  const apiUrl = await listen(api, '127.0.0.1', 0);
  const redis = new Redis(redisUrl);
  return {
    config, sim, apiUrl, redis, worker, api,
    async stop() {
      await api.close();
      await worker.close();
      await sim.close();
      const keys = await redis.keys(`${config.IOPLANE_PREFIX}:*`);
      const queueKeys = await redis.keys(`{${config.IOPLANE_PREFIX}}:*`);
      if (keys.length + queueKeys.length) await redis.del(...keys, ...queueKeys);
      await redis.quit();
      rmSync(keysDir, { recursive: true, force: true });
    },
  };
}

export async function http<T = any>(base: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(new URL(path, base), {
    method,
    headers: body !== undefined ? { 'content-type': 'application/json' } : {},
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** Polls the job through the API until it ends; jest's own timeout bounds a hang. */
export async function waitJob(base: string, id: string): Promise<any> {
  for (;;) {
    const { body } = await http(base, 'GET', `/v1/jobs/${id}`);
    if (body.state === 'completed' || body.state === 'failed') return body;
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Runs the CLI as an operator would: a separate process speaking HTTP to the API. */
export function runCli(args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-r', '@swc-node/register', 'apps/cli/src/main.ts', ...args], { env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => (stdout += b));
    child.stderr.on('data', (b) => (stderr += b));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ioplane ${args.join(' ')} timed out`));
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
