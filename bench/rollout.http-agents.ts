import { createServer } from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Device } from '@ioplane/domain';
import type { AgentHostData, DeviceTime } from './rollout.agent-host';

/** A free port on the first bench address (every agent then binds the same number on its own address). */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** 127.79.x.y: Linux answers on all of 127.0.0.0/8; the fleet simulator uses 127.77.*. */
export function benchAddress(i: number): string {
  return `127.79.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

/**
 * Real HTTP agents for the bench machines, spread over a few worker threads (many agents per
 * thread). The rollout reaches them only through their URLs.
 */
export class HttpAgents {
  private seq = 0;
  private constructor(
    private readonly workers: Worker[],
    readonly urlOf: Map<string, string>,
  ) {}

  static async start(
    threads: number,
    o: {
      machines: Array<{ systemId: string; hostname: string; devices: Device[] }>;
      tokenSecret: string;
      publicKeyPem: string;
      timeScale: number;
    },
  ): Promise<HttpAgents> {
    const port = await freePort(benchAddress(0));
    const instance = `b${process.pid.toString(36)}`;
    const file = join(__dirname, 'rollout.agent-host.ts');
    const shards: AgentHostData['machines'][] = Array.from({ length: threads }, () => []);
    o.machines.forEach((m, i) => shards[i % threads].push({ ...m, address: benchAddress(i) }));
    const workers: Worker[] = [];
    const urlOf = new Map<string, string>();
    try {
      await Promise.all(
        shards.map(async (machines) => {
          const data: AgentHostData = {
            machines,
            port,
            tokenSecret: o.tokenSecret,
            publicKeyPem: o.publicKeyPem,
            timeScale: o.timeScale,
            instance,
          };
          const w = new Worker(`require('@swc-node/register'); require(${JSON.stringify(file)});`, { eval: true, workerData: data });
          workers.push(w);
          const ready = await new Promise<{ ready: boolean; urls?: string[]; error?: string }>((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
          });
          if (!ready.ready) throw new Error(`bench agents did not start: ${ready.error}`);
          machines.forEach((m, i) => urlOf.set(m.systemId, ready.urls![i]));
        }),
      );
    } catch (e) {
      await Promise.allSettled(workers.map((w) => w.terminate()));
      throw e;
    }
    return new HttpAgents(workers, urlOf);
  }

  private ask<T>(w: Worker, op: 'stats' | 'close'): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const on = (m: { id?: number; value: T }) => {
        if (m.id !== id) return;
        w.off('message', on);
        resolve(m.value);
      };
      w.on('message', on);
      w.once('error', reject);
      w.postMessage({ op, id });
    });
  }

  async deviceTimes(): Promise<Map<string, DeviceTime>> {
    const out = new Map<string, DeviceTime>();
    for (const w of this.workers)
      for (const [k, v] of Object.entries(await this.ask<Record<string, DeviceTime>>(w, 'stats'))) out.set(k, v);
    return out;
  }

  async close(): Promise<void> {
    // Agents close their servers and state first; then the threads go.
    await Promise.allSettled(this.workers.map((w) => Promise.race([this.ask(w, 'close'), new Promise((r) => setTimeout(r, 10_000))])));
    await Promise.allSettled(this.workers.map((w) => w.terminate()));
  }
}
