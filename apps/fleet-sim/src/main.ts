import { join, resolve } from 'node:path';
import { kernelAvailable } from '@ioplane/compiler';
import { loadOrCreateSecret, loadOrCreateSigningKeys } from '@ioplane/runtime';
import { secureDataDir } from '@ioplane/runtime';
import { FleetFileError } from './fleet-file';
import { ScenarioFileError } from './scenario.file';
import { parseApiKey } from './maas-sim.auth';
import { SimAgentStartError, type SimAgentOptions } from './maas-sim.agents';
import { startMaasSimulator } from './maas-sim.server';

interface Config {
  fleetFile: string;
  apiKey?: string;
  port: number;
  host: string;
  timeScale: number;
  agents: { port: number; kernel: 'auto' | 'off'; keysDir: string } | null;
  scenario: { file: string; speed: number } | null;
}

const AGENT_TOKEN_SECRET_FILE = 'agent-token.secret';
/** The simulated agents' fault-injection credential, kept with the keys so a tool can read it. */
const AGENT_FAULT_TOKEN_FILE = 'agent-fault.token';

function portFrom(name: string, raw: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) throw new Error(`${name} must be an integer from 0 to 65535, got '${raw}'`);
  return Number(raw);
}

/** Environment problems exit 1 with a message naming the variable, before anything listens. */
function config(env: NodeJS.ProcessEnv): Config {
  const apiKey = env.MAAS_API_KEY?.trim() || undefined;
  if (apiKey !== undefined && !parseApiKey(apiKey)) {
    throw new Error('MAAS_API_KEY must have the form consumer_key:token_key:token_secret (three non-empty parts separated by ":")');
  }
  const port = portFrom('MAAS_PORT', env.MAAS_PORT?.trim() || '5240');
  const timeScale = env.MAAS_TIME_SCALE;
  if (timeScale !== undefined && !(Number(timeScale) >= 0)) throw new Error(`MAAS_TIME_SCALE must be a number >= 0, got '${timeScale}'`);
  const agentsSwitch = env.FLEET_AGENTS?.trim().toLowerCase() || 'on';
  if (agentsSwitch !== 'on' && agentsSwitch !== 'off') throw new Error(`FLEET_AGENTS must be 'on' or 'off', got '${env.FLEET_AGENTS}'`);
  let agents: Config['agents'] = null;
  if (agentsSwitch === 'on') {
    const agentPort = portFrom('AGENT_PORT', env.AGENT_PORT?.trim() || '9440');
    const kernel = env.AGENT_KERNEL?.trim() || 'auto';
    if (kernel !== 'auto' && kernel !== 'off') throw new Error(`AGENT_KERNEL must be 'auto' or 'off', got '${kernel}'`);
    agents = { port: agentPort, kernel, keysDir: resolve(env.IOPLANE_DATA_DIR?.trim() || 'var', 'keys') };
  }
  const speed = env.FLEET_SCENARIO_SPEED?.trim() || '1';
  if (!(Number(speed) > 0)) throw new Error(`FLEET_SCENARIO_SPEED must be a number > 0, got '${speed}'`);
  const scenarioFile = env.FLEET_SCENARIO?.trim();
  return {
    scenario: scenarioFile ? { file: resolve(scenarioFile), speed: Number(speed) } : null,
    fleetFile: resolve(env.FLEET_FILE?.trim() || 'fleets/demo.yaml'),
    apiKey,
    port,
    host: env.MAAS_HOST?.trim() || '127.0.0.1',
    timeScale: timeScale !== undefined ? Number(timeScale) : 1,
    agents,
  };
}

function fail(message: string): never {
  process.stderr.write(`fleet-sim: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  let cfg: Config;
  try {
    cfg = config(process.env);
  } catch (e) {
    fail((e as Error).message);
  }
  let agents: SimAgentOptions | undefined;
  if (cfg.agents) {
    try {
      // The keys and agent state live in the data folder: private, like every ioplane process keeps it.
      secureDataDir({ IOPLANE_DATA_DIR: resolve(process.env.IOPLANE_DATA_DIR?.trim() || 'var'), IOPLANE_KEYS_DIR: cfg.agents.keysDir });
      const keys = loadOrCreateSigningKeys(cfg.agents.keysDir);
      agents = {
        publicKeyPem: keys.publicKeyPem,
        tokenSecret: loadOrCreateSecret(cfg.agents.keysDir, AGENT_TOKEN_SECRET_FILE),
        faultToken: loadOrCreateSecret(cfg.agents.keysDir, AGENT_FAULT_TOKEN_FILE),
        port: cfg.agents.port,
        kernel: cfg.agents.kernel,
        // Named after the port, which no two running fleet-sims can share: one restarted after a
        // crash finds its agents' pinned programs again, and two at once never share namespaces.
        instanceId: cfg.agents.port === 0 ? undefined : `p${cfg.agents.port}`,
        stateDir: resolve(process.env.IOPLANE_DATA_DIR?.trim() || 'var', 'fleet-sim', 'agents'),
      };
    } catch (e) {
      fail(`IOPLANE_DATA_DIR: cannot use the keys in ${cfg.agents.keysDir}: ${(e as Error).message}`);
    }
  }
  const sim = await startMaasSimulator({
    fleetFile: cfg.fleetFile,
    apiKey: cfg.apiKey,
    port: cfg.port,
    host: cfg.host,
    timeScale: cfg.timeScale,
    agents,
    scenario: cfg.scenario ?? undefined,
  }).catch((e: unknown) => {
    const msg =
      e instanceof FleetFileError
        ? `invalid fleet file ${e.message}`
        : e instanceof ScenarioFileError
          ? `FLEET_SCENARIO: ${e.message}`
          : (e as Error).message;
    fail(e instanceof SimAgentStartError ? `${msg} (AGENT_PORT=${cfg.agents?.port}; FLEET_AGENTS=off starts MAAS alone)` : msg);
  });
  const hosts = sim.model.hosts.length;
  const dpus = sim.model.dpus.length;
  const lines = [
    `fleet-sim: MAAS API 2.0 simulator for ${cfg.fleetFile} (${hosts} hosts, ${dpus} DPUs)`,
    `MAAS_URL=${sim.url}`,
    `MAAS_API_KEY=${sim.apiKey}`,
    `fault controls: GET/PUT/DELETE ${sim.url.replace(/MAAS\/$/, '')}sim/faults (same OAuth header)`,
    ...(cfg.scenario ? [`replaying scenario ${cfg.scenario.file} at ${cfg.scenario.speed}x on the emulated counters`] : []),
  ];
  if (cfg.agents) {
    const modes = [...sim.agents.values()].map((a) => a.mode);
    const kernel = modes.filter((m) => m === 'kernel').length;
    const processes = [...sim.agents.values()].filter((a) => a.pid !== null).length;
    let mode = kernel === modes.length ? `kernel (host XDP real, each agent a process in its machine's network namespace)` : 'emulated';
    if (kernel > 0 && kernel < modes.length) mode = `${kernel} kernel, ${modes.length - kernel} emulated`;
    if (kernel === 0 && cfg.agents.kernel === 'auto')
      mode += ` (kernel unavailable: ${(await kernelAvailable()).reason ?? 'iop-xdpctl could not be built'})`;
    if (kernel === 0 && cfg.agents.kernel === 'off') mode += ' (AGENT_KERNEL=off)';
    lines.push(
      processes
        ? `agents: ${sim.agents.size} processes (one per host and one per DPU machine, each in its machine's namespace) on port ${sim.agentPort} of each machine's MAAS address (mgmt0, 10.215.b.n), mode ${mode}`
        : `agents: ${sim.agents.size} embedded (one per host, none for DPUs) on port ${sim.agentPort} of each host's MAAS address (127.77.z.n), mode ${mode}`,
      `AGENT_PORT=${sim.agentPort}`,
      `agent tokens: hex HMAC-SHA256(secret, "agent:<system_id>"), secret in ${join(cfg.agents.keysDir, AGENT_TOKEN_SECRET_FILE)}`,
      `artifact signing keys: ${join(cfg.agents.keysDir, 'signing.key')} (private), ${join(cfg.agents.keysDir, 'signing.pub')}`,
      processes
        ? "agent fault injection: none (the agents are the production program); faults are the emulated hardware's (cabling, stages), injected by the simulator"
        : `agent fault injection: PUT /v1/faults with the bearer token in ${join(cfg.agents.keysDir, AGENT_FAULT_TOKEN_FILE)} (embedded agents only)`,
    );
  } else {
    lines.push('agents: off (FLEET_AGENTS=off)');
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`fleet-sim: ${signal}, stopping\n`);
    sim.close().then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`fleet-sim: stopping failed: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

void main();
