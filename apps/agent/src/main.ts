import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { DEFAULT_PROFILES_DIR, loadProfiles } from '@ioplane/profiles';
import { bareNic, type FirmwareProfile } from '@ioplane/domain';
import { emulatedHostPorts, hostInterfaces, parseEmulatedPorts, type HostPorts } from '@ioplane/devices';
import { readEnvFile } from './agent.env';
import { startAgent, type AgentMachine } from './agent.server';

const envSchema = z.object({
  AGENT_HOST: z.string().min(1).default('127.0.0.1'),
  AGENT_PORT: z.coerce.number().int().min(0).max(65535).default(9440),
  AGENT_TOKEN: z.string().min(16, 'must be at least 16 characters'),
  AGENT_PUBLIC_KEY: z.string().min(1, 'must name a PEM file with the ed25519 public key'),
  AGENT_ID: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, _ and - only (max 40)')
    .default(
      hostname()
        .replace(/[^A-Za-z0-9_-]/g, '-')
        .slice(0, 40),
    ),
  AGENT_MACHINE: z.string().optional(),
  AGENT_TIME_SCALE: z.coerce.number().positive().default(1),
  AGENT_KERNEL: z.enum(['auto', 'off']).default('auto'),
  AGENT_STATE_DIR: z.string().optional(),
  AGENT_PROFILES_DIR: z.string().min(1).default(DEFAULT_PROFILES_DIR),
  /** Set only by the simulator that runs this agent in an emulated machine: a JSON file of the hardware stages and wire in front of its ports. */
  AGENT_EMULATED_PORTS: z.string().optional(),
});

function fail(variable: string, why: string): never {
  process.stderr.write(`agent: ${variable}: ${why}\n`);
  process.exit(2);
}

/** `--env-file <path>` or AGENT_ENV_FILE: the settings file the unit reads (/etc/ioplane/agent.env), for a run by hand. */
function environment(): NodeJS.ProcessEnv {
  const flag = process.argv.indexOf('--env-file');
  const file = flag > 0 ? process.argv[flag + 1] : process.env.AGENT_ENV_FILE;
  if (!file) return process.env;
  try {
    return readEnvFile(file, process.env);
  } catch (e) {
    fail(flag > 0 ? '--env-file' : 'AGENT_ENV_FILE', (e as Error).message);
  }
}

/**
 * The packaged agent is a single executable: it is also the Node.js its kernel driver starts as
 * `process.execPath -e <script>` to send probe traffic from a port's peer namespace.
 */
function runInlineScript(): boolean {
  const sea = require('node:sea') as { isSea(): boolean };
  if (!sea.isSea() || process.argv[2] !== '-e') return false;
  const script = process.argv[3] ?? '';
  // As under `node -e`: argv is the executable, then the script's own arguments.
  process.argv.splice(1, 3);
  new Function('require', script)(require);
  return true;
}

async function main(): Promise<void> {
  if (runInlineScript()) return;
  const parsed = envSchema.safeParse(environment());
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(String(issue.path[0]), issue.message);
  }
  const env = parsed.data;
  // The xdpctl helper is built on first use into a cache; the packaged install folder is read-only.
  if (env.AGENT_STATE_DIR) process.env.IOPLANE_XDPCTL_CACHE ??= join(env.AGENT_STATE_DIR, 'cache');
  let publicKeyPem: string;
  try {
    publicKeyPem = readFileSync(env.AGENT_PUBLIC_KEY, 'utf8');
    if (!publicKeyPem.includes('BEGIN PUBLIC KEY')) throw new Error('not a PEM public key');
  } catch (e) {
    fail('AGENT_PUBLIC_KEY', (e as Error).message);
  }
  let machine: AgentMachine = { systemId: env.AGENT_ID, hostname: hostname(), devices: [] };
  if (!env.AGENT_MACHINE) {
    // Without the MAAS machine, the host's own ports are what it has: the netdevs with a bus
    // (physical) and bonds, each an unprofiled card whose host XDP the kernel runs.
    const ifaces = await hostInterfaces(null).catch(() => []);
    machine.devices = ifaces.filter((i) => i.busInfo || i.kind === 'bond').map((i) => bareNic(env.AGENT_ID, i.name, [i.name]));
  } else {
    try {
      machine = JSON.parse(readFileSync(env.AGENT_MACHINE, 'utf8')) as AgentMachine;
      if (!machine.systemId || !Array.isArray(machine.devices)) throw new Error('needs systemId and devices[]');
    } catch (e) {
      fail('AGENT_MACHINE', (e as Error).message);
    }
  }
  let profiles: FirmwareProfile[];
  try {
    profiles = loadProfiles(env.AGENT_PROFILES_DIR);
  } catch (e) {
    fail('AGENT_PROFILES_DIR', (e as Error).message);
  }
  // A real host: the agent acts on the interfaces of the namespace it runs in, by their names. In an
  // emulated machine the same, plus the emulated NIC/DPU stages and the wire the simulator describes.
  let interfaces: HostPorts = { netns: null };
  if (env.AGENT_EMULATED_PORTS) {
    try {
      interfaces = emulatedHostPorts(parseEmulatedPorts(JSON.parse(readFileSync(env.AGENT_EMULATED_PORTS, 'utf8'))), null);
    } catch (e) {
      fail('AGENT_EMULATED_PORTS', (e as Error).message);
    }
  }
  const agent = await startAgent({
    id: env.AGENT_ID,
    host: env.AGENT_HOST,
    port: env.AGENT_PORT,
    token: env.AGENT_TOKEN,
    machine,
    profiles,
    publicKeyPem,
    timeScale: env.AGENT_TIME_SCALE,
    kernel: env.AGENT_KERNEL,
    stateDir: env.AGENT_STATE_DIR,
    interfaces,
  });
  const stop = (): void => {
    agent.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
