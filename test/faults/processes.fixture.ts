import type { ChildProcess } from 'node:child_process';
import { freePort } from '../../libs/runtime/src/redis.embedded';
import { Harness, http, registerApi } from '../harness';
import { sleep, spawnApp } from './fault.fixture';

/** An API in its own process, as production runs several behind a load balancer, on the harness's Redis and keys. */
export interface ApiProcess {
  url: string;
  child: ChildProcess;
  output(): string;
  kill(): Promise<void>;
}

export async function spawnApi(h: Harness, env: Record<string, string> = {}): Promise<ApiProcess> {
  const port = await freePort();
  const app = spawnApp('apps/api/src/main.ts', {
    REDIS_URL: h.config.REDIS_URL,
    IOPLANE_PREFIX: h.config.IOPLANE_PREFIX,
    IOPLANE_KEYS_DIR: h.keysDir,
    IOPLANE_DATA_DIR: h.config.IOPLANE_DATA_DIR,
    AGENT_PORT: String(h.config.AGENT_PORT),
    API_HOST: '127.0.0.1',
    API_PORT: String(port),
    API_REFUSED_LIMIT: '100000',
    DRAIN_GRACE_MS: '0',
    IOPLANE_CHECK_RESPONSES: 'on',
    LOG_LEVEL: 'warn',
    ...env,
  });
  const { child, output } = app;
  const url = `http://127.0.0.1:${port}`;
  const api: ApiProcess = {
    url,
    child,
    output,
    async kill() {
      registerApi(url, null);
      await app.kill();
    },
  };
  registerApi(url, h.token);
  const end = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the API process exited: ${output().slice(-2000)}`);
    const ok = await http(url, 'GET', '/healthz').then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) return api;
    if (Date.now() > end) {
      await api.kill();
      throw new Error(`the API process did not answer within 60 s: ${output().slice(-2000)}`);
    }
    await sleep(200);
  }
}

export interface MachineOutcome {
  hostname: string;
  state: string;
  /** Chains the agent runs with any of the placement's modules, and whether a rollback target is still held. */
  agent: { modules: string[]; uncommitted: boolean };
}

/**
 * Every machine of a placement as its record says and as its agent reports: after any fault a
 * machine must be committed with the chain running (and no rollback target left) or restored
 * without it. Returned for one `toEqual` so a failure shows the whole fleet.
 */
export async function outcomes(h: Harness, apiUrl: string, placementId: string, modules: string[]): Promise<MachineOutcome[]> {
  const p = (await http(apiUrl, 'GET', `/v1/placements/${placementId}`)).body;
  const out: MachineOutcome[] = [];
  for (const m of p.rollout?.machines ?? []) {
    const { devices } = await h.agent(m.systemId).programs();
    const ports = devices.flatMap((d) => d.ports);
    const running = ports.filter((x) => x.current?.modules.some((mm) => modules.includes(mm.name)));
    out.push({
      hostname: m.hostname ?? m.systemId,
      state: m.state,
      agent: {
        modules: [...new Set(running.flatMap((x) => x.current!.modules.map((mm) => mm.name)))].sort(),
        uncommitted: ports.some((x) => x.previous !== null),
      },
    });
  }
  return out;
}

/** What `outcomes` must show: committed machines run the chain, restored ones do not, nothing half-done. */
export function converged(o: MachineOutcome[], modules: string[]): MachineOutcome[] {
  return o.map((m) =>
    m.state === 'committed'
      ? { ...m, agent: { modules: [...modules].sort(), uncommitted: false } }
      : {
          ...m,
          state: ['rolled-back', 'failed', 'cancelled'].includes(m.state) ? m.state : 'a terminal state',
          agent: { modules: [], uncommitted: false },
        },
  );
}
