import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { agentToken } from '@ioplane/agent-api';
import type { Device } from '@ioplane/domain';
import { loadProfiles } from '@ioplane/profiles';
import { createLogger } from '@ioplane/runtime';
import { startAgent, type RunningAgent } from '../apps/agent/src';

/**
 * Worker-thread entry: real agents (apps/agent startAgent: HTTP server, token check, signature
 * check, emulated drivers), one per bench machine, each listening on its own loopback address at
 * a port shared by all, as the fleet simulator starts them. A thread only spreads the agents' CPU
 * over the cores: the rollout reaches them over HTTP like any agent. The drivers' flash and load
 * are timed from inside (the device time the overhead is measured against).
 */
export interface AgentHostData {
  machines: Array<{ systemId: string; hostname: string; address: string; devices: Device[] }>;
  port: number;
  tokenSecret: string;
  publicKeyPem: string;
  timeScale: number;
  instance: string;
}

export type AgentHostMsg = { op: 'stats'; id: number } | { op: 'close'; id: number };

export interface DeviceTime {
  flashMs: number;
  loadMs: number;
  flashes: number;
  loads: number;
}

async function serve(data: AgentHostData): Promise<void> {
  const profiles = loadProfiles();
  const logger = createLogger({ level: 'silent' });
  const stateDir = mkdtempSync(join(tmpdir(), `ioplane-bench-agents-${data.instance}-`));
  const agents: RunningAgent[] = [];
  const spent = new Map<string, DeviceTime>();
  try {
    for (const m of data.machines) {
      const agent = await startAgent({
        id: `${data.instance}-${m.systemId}`,
        host: m.address,
        port: data.port,
        token: agentToken(data.tokenSecret, m.systemId),
        machine: { systemId: m.systemId, hostname: m.hostname, devices: m.devices },
        profiles,
        publicKeyPem: data.publicKeyPem,
        timeScale: data.timeScale,
        kernel: 'off',
        stateDir: join(stateDir, m.systemId),
        logger,
      });
      agents.push(agent);
      const t: DeviceTime = { flashMs: 0, loadMs: 0, flashes: 0, loads: 0 };
      spent.set(m.systemId, t);
      // Timed inside the agent, around the driver call itself: HTTP, JSON and signature checks are overhead.
      for (const d of agent.drivers.values()) {
        const flash = d.flash.bind(d);
        const load = d.load.bind(d);
        d.flash = async (...a: Parameters<typeof flash>) => {
          const t0 = performance.now();
          try {
            return await flash(...a);
          } finally {
            t.flashMs += performance.now() - t0;
            t.flashes++;
          }
        };
        d.load = async (...a: Parameters<typeof load>) => {
          const t0 = performance.now();
          try {
            return await load(...a);
          } finally {
            t.loadMs += performance.now() - t0;
            t.loads++;
          }
        };
      }
    }
  } catch (e) {
    await Promise.allSettled(agents.map((a) => a.close()));
    rmSync(stateDir, { recursive: true, force: true });
    throw e;
  }
  parentPort!.postMessage({ ready: true, urls: agents.map((a) => a.url) });
  parentPort!.on('message', (m: AgentHostMsg) => {
    if (m.op === 'stats') parentPort!.postMessage({ id: m.id, value: Object.fromEntries(spent) });
    else
      void Promise.allSettled(agents.map((a) => a.close())).then(() => {
        rmSync(stateDir, { recursive: true, force: true });
        parentPort!.postMessage({ id: m.id, value: null });
      });
  });
}

if (parentPort && workerData?.machines) {
  serve(workerData as AgentHostData).catch((e: Error) => parentPort!.postMessage({ ready: false, error: e.message }));
}
