import type { INestApplication, INestApplicationContext } from '@nestjs/common';
import { join } from 'node:path';
import { type MachineTopology } from '@ioplane/devices';
import { loadOrCreateSecret, loadOrCreateSigningKeys } from '@ioplane/runtime';
import { IoplaneConfig, resolveRedis } from '@ioplane/runtime';
import { bootstrapAdminToken, createApi, listen } from '../../api/src/api.app';
import { TOKEN_REPOSITORY } from '../../api/src/auth/auth.tokens';
import type { Role, TokenRepository } from '@ioplane/state';
import { startMaasSimulator } from '../../fleet-sim/src';
import { createWorker } from '../../worker/src/worker.app';

export interface Stack {
  config: IoplaneConfig;
  /** Host agents of the embedded fleet and the mode their host XDP runs in. */
  agents: { count: number; modes: Record<string, number> } | null;
  apiUrl: string;
  /** The first admin token when this start created it (a fresh installation), else null. */
  adminToken: string | null;
  /** Makes a token for an in-process client (the demo), revoked with `revoke`. */
  issueToken(name: string, role: Role): Promise<{ token: string; revoke(): Promise<void> }>;
  maasUrl: string;
  redisUrl: string;
  embedded: { redis: boolean; maas: boolean };
  /** The embedded fleet's namespaces per host (packet-true fleet), for checks made from outside the agents; null otherwise. */
  emulation: { topology(systemId: string): MachineTopology | null } | null;
  stop(): Promise<void>;
}

/**
 * Boots what `npm start` runs: Redis (REDIS_URL or embedded), the MAAS simulator
 * (unless MAAS_URL points at a real MAAS), the worker and the API.
 * Everything started here is stopped by stop(), in reverse order.
 */
export async function startStack(
  config: IoplaneConfig,
  opts: { schedules?: boolean; agentTimeScale?: number; agentKernel?: 'auto' | 'off' } = {},
): Promise<Stack> {
  const stops: Array<() => Promise<void>> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
  };
  try {
    const redis = await resolveRedis(config);
    stops.push(redis.stop);
    let maas = { url: config.MAAS_URL ?? '', apiKey: config.MAAS_API_KEY ?? '' };
    const embeddedMaas = !config.MAAS_URL;
    let agents: Stack['agents'] = null;
    let emulation: Stack['emulation'] = null;
    if (embeddedMaas) {
      // The embedded fleet's agents trust the controller's key and derive their tokens from its secret.
      const keysDir = config.IOPLANE_KEYS_DIR ?? join(config.IOPLANE_DATA_DIR, 'keys');
      const sim = await startMaasSimulator({
        fleetFile: config.FLEET_FILE,
        host: config.MAAS_HOST,
        port: config.MAAS_PORT,
        apiKey: config.MAAS_API_KEY,
        agents: {
          publicKeyPem: loadOrCreateSigningKeys(keysDir).publicKeyPem,
          tokenSecret: loadOrCreateSecret(keysDir, 'agent-token.secret'),
          port: config.AGENT_PORT,
          timeScale: opts.agentTimeScale,
          kernel: opts.agentKernel,
          logLevel: config.LOG_LEVEL,
        },
      });
      stops.push(() => sim.close());
      maas = { url: sim.url, apiKey: sim.apiKey };
      config = { ...config, AGENT_PORT: sim.agentPort, IOPLANE_KEYS_DIR: keysDir };
      const modes: Record<string, number> = {};
      for (const a of sim.agents.values()) modes[a.mode] = (modes[a.mode] ?? 0) + 1;
      agents = { count: sim.agents.size, modes };
      emulation = { topology: (systemId) => sim.topology(systemId) };
    } else if (!config.MAAS_API_KEY) {
      throw new Error('MAAS_URL is set but MAAS_API_KEY is not: set both, or neither for the embedded simulator');
    }
    const worker: INestApplicationContext = await createWorker({
      config,
      redisUrl: redis.url,
      name: 'ioplane',
      maas,
      schedules: opts.schedules,
    });
    stops.push(() => worker.close());
    const api: INestApplication = await createApi({ config, redisUrl: redis.url, name: 'ioplane' });
    stops.push(() => api.close());
    const apiUrl = await listen(api, config.API_HOST, config.API_PORT);
    const adminToken = await bootstrapAdminToken(api);
    const issueToken = async (name: string, role: Role) => {
      const tokens = api.get<TokenRepository>(TOKEN_REPOSITORY);
      const { token, record } = await tokens.create(name, role);
      return { token, revoke: async () => void (await tokens.revoke(record.id)) };
    };
    return {
      config,
      agents,
      adminToken,
      issueToken,
      apiUrl,
      maasUrl: maas.url,
      redisUrl: redis.url,
      embedded: { redis: redis.embedded, maas: embeddedMaas },
      emulation,
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
