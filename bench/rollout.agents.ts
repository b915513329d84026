import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { AgentError } from '@ioplane/agent-api';
import type { AgentPort } from '@ioplane/rollout';
import type { DeviceTime, HostData, HostReply, HostRequest } from './rollout.device-host';

/**
 * The bench's agents: every machine's devices are real emulated drivers, hosted in a few worker
 * threads and reached through an in-process AgentPort (no HTTP for a thousand machines: the
 * runbook sees the same calls and answer shapes as the AgentClient, without a thousand sockets).
 */
export class BenchAgents {
  private seq = 0;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private readonly shardOf = new Map<string, Worker>();

  private constructor(private readonly workers: Worker[]) {
    for (const w of workers) {
      w.on('message', (m: HostReply) => {
        const p = this.pending.get(m.id);
        if (!p) return;
        this.pending.delete(m.id);
        if (m.ok) p.resolve(m.value);
        else p.reject(new AgentError(m.code === 'not_found' ? 404 : 409, m.code, m.message));
      });
      w.on('error', (e) => {
        for (const p of this.pending.values()) p.reject(e);
        this.pending.clear();
      });
    }
  }

  static async start(shards: number, data: HostData): Promise<BenchAgents> {
    const file = join(__dirname, 'rollout.device-host.ts');
    const workers = Array.from(
      { length: shards },
      () => new Worker(`require('@swc-node/register'); require(${JSON.stringify(file)});`, { eval: true, workerData: data }),
    );
    const agents = new BenchAgents(workers);
    // A first answer from every thread proves it loaded the drivers' code.
    await Promise.all(workers.map((w) => agents.ping(w)));
    return agents;
  }

  private ping(w: Worker): Promise<unknown> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      w.postMessage({ id, systemId: '', op: 'stats' } satisfies HostRequest);
    });
  }

  /**
   * Binds a machine to the thread of the rollout lane that takes it first: lane k always uses
   * thread k mod threads, which spreads the lanes evenly; its drivers live there from then on.
   */
  assign(systemId: string, lane: number): void {
    if (!this.shardOf.has(systemId)) this.shardOf.set(systemId, this.workers[lane % this.workers.length]);
  }

  private call<T>(r: Omit<HostRequest, 'id'>): Promise<T> {
    const w = this.shardOf.get(r.systemId);
    if (!w) return Promise.reject(new Error(`machine ${r.systemId} was never assigned to a device thread`));
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      w.postMessage({ ...r, id } satisfies HostRequest);
    });
  }

  agent(systemId: string): AgentPort {
    const dev = (op: HostRequest['op']) => (deviceId: string, body?: unknown) => this.call<any>({ systemId, op, deviceId, body });
    return {
      inventory: () => this.call({ systemId, op: 'inventory' }),
      programs: () => this.call({ systemId, op: 'programs' }),
      flash: (deviceId, body) => dev('flash')(deviceId, body),
      load: (deviceId, body) => dev('load')(deviceId, body),
      commit: (deviceId, port) => dev('commit')(deviceId, { port: port ?? 0 }),
      detach: (deviceId, port) => dev('detach')(deviceId, { port: port ?? 0 }),
      rollback: (deviceId, body) => dev('rollback')(deviceId, body ?? {}),
      runVectors: (deviceId, body) => dev('runVectors')(deviceId, body),
      counters: (deviceId) => dev('counters')(deviceId),
      probe: (deviceId, port, packets) => dev('probe')(deviceId, { port: port ?? 0, packets: packets ?? 50 }),
    };
  }

  deviceTime(systemId: string): Promise<DeviceTime> {
    return this.call({ systemId, op: 'stats' });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
