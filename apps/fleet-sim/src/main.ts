import { resolve } from 'node:path';
import { FleetFileError } from './fleet-file';
import { parseApiKey } from './maas-sim.auth';
import { startMaasSimulator } from './maas-sim.server';

/** Environment problems exit 1 with a message naming the variable, before anything listens. */
function config(env: NodeJS.ProcessEnv): { fleetFile: string; apiKey?: string; port: number; host: string } {
  const apiKey = env.MAAS_API_KEY?.trim() || undefined;
  if (apiKey !== undefined && !parseApiKey(apiKey)) {
    throw new Error('MAAS_API_KEY must have the form consumer_key:token_key:token_secret (three non-empty parts separated by ":")');
  }
  const rawPort = env.MAAS_PORT?.trim() || '5240';
  if (!/^\d+$/.test(rawPort) || Number(rawPort) > 65535) throw new Error(`MAAS_PORT must be an integer from 0 to 65535, got '${rawPort}'`);
  const timeScale = env.MAAS_TIME_SCALE;
  if (timeScale !== undefined && !(Number(timeScale) >= 0)) throw new Error(`MAAS_TIME_SCALE must be a number >= 0, got '${timeScale}'`);
  return {
    fleetFile: resolve(env.FLEET_FILE?.trim() || 'fleets/demo.yaml'),
    apiKey,
    port: Number(rawPort),
    host: env.MAAS_HOST?.trim() || '127.0.0.1',
  };
}

async function main(): Promise<void> {
  let cfg: ReturnType<typeof config>;
  try {
    cfg = config(process.env);
  } catch (e) {
    process.stderr.write(`fleet-sim: ${(e as Error).message}\n`);
    process.exit(1);
  }
  const timeScale = process.env.MAAS_TIME_SCALE ? Number(process.env.MAAS_TIME_SCALE) : 1;
  const sim = await startMaasSimulator({ ...cfg, timeScale }).catch((e: unknown) => {
    const msg = e instanceof FleetFileError ? `invalid fleet file ${e.message}` : (e as Error).message;
    process.stderr.write(`fleet-sim: ${msg}\n`);
    process.exit(1);
  });
  const hosts = sim.model.hosts.length;
  const dpus = sim.model.dpus.length;
  process.stdout.write(
    [
      `fleet-sim: MAAS API 2.0 simulator for ${cfg.fleetFile} (${hosts} hosts, ${dpus} DPUs)`,
      `MAAS_URL=${sim.url}`,
      `MAAS_API_KEY=${sim.apiKey}`,
      `fault controls: GET/PUT/DELETE ${sim.url.replace(/MAAS\/$/, '')}sim/faults (same OAuth header)`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`fleet-sim: ${signal}, stopping\n`);
    sim.close().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();
