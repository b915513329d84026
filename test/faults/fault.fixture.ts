import { ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedRedis, startEmbeddedRedis } from '../../libs/runtime/src/redis.embedded';
import type { Harness } from '../harness';

/**
 * A Redis of the fault test's own (AOF on, as production runs it) that the test can SIGKILL and
 * bring back on the same port, password and data directory, so it restarts from its AOF.
 */
export class OwnRedis {
  private current: EmbeddedRedis | null = null;
  /** Every server this fixture started: stop() ends all of them, so none outlives the test. */
  private readonly started: EmbeddedRedis[] = [];
  running = false;
  readonly dataDir = mkdtempSync(join(tmpdir(), 'ioplane-fault-redis-'));

  async start(): Promise<string> {
    const prev = this.current;
    this.current = await startEmbeddedRedis({ dataDir: this.dataDir, port: prev?.port, password: prev?.password });
    this.started.push(this.current);
    this.running = true;
    return this.current.url;
  }

  get url(): string {
    return this.current!.url;
  }

  /** Dies as a crashed server does: no shutdown, only what the AOF already holds survives. */
  async kill(): Promise<void> {
    const r = this.current!;
    this.running = false;
    try {
      process.kill(r.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
    await r.stop();
  }

  async stop(): Promise<void> {
    this.running = false;
    for (const r of this.started) {
      await r.stop().catch(() => undefined);
      try {
        process.kill(r.pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export interface AppProcess {
  child: ChildProcess;
  exited: Promise<number | null>;
  alive(): boolean;
  /** What it printed, stdout and stderr together (the last 100 to 200 kB). */
  output(): string;
  /** SIGKILL, unless it has already ended; resolves once it has. */
  kill(): Promise<void>;
}

export type WorkerProcess = AppProcess;

/** An app (`main`: its entry file) in its own process, as production runs it, with `env` over this process's environment. */
export function spawnApp(main: string, env: NodeJS.ProcessEnv): AppProcess {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', main], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (b: Buffer) => {
    out += b.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    child,
    exited,
    alive,
    output: () => out,
    async kill() {
      if (alive()) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** A worker in its own process, as production runs it, on the harness's Redis, MAAS, keys and agents. */
export function spawnWorker(h: Harness, env: Record<string, string> = {}): WorkerProcess {
  return spawnApp('apps/worker/src/main.ts', {
    REDIS_URL: h.config.REDIS_URL,
    IOPLANE_PREFIX: h.config.IOPLANE_PREFIX,
    MAAS_URL: h.maas.url,
    MAAS_API_KEY: h.maas.apiKey,
    IOPLANE_KEYS_DIR: h.keysDir,
    AGENT_PORT: String(h.config.AGENT_PORT),
    IOPLANE_DATA_DIR: h.config.IOPLANE_DATA_DIR,
    FLEET_SYNC_INTERVAL_MS: '3600000',
    MAAS_EVENTS_INTERVAL_MS: '3600000',
    LOG_LEVEL: 'warn',
    ...env,
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
