import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { z } from 'zod';
import { loadProfiles } from '@ioplane/profiles';
import { startAgent, type AgentMachine } from './agent.server';

const envSchema = z.object({
  AGENT_HOST: z.string().min(1).default('127.0.0.1'),
  AGENT_PORT: z.coerce.number().int().min(0).max(65535).default(9440),
  AGENT_TOKEN: z.string().min(16, 'must be at least 16 characters'),
  AGENT_PUBLIC_KEY: z.string().min(1, 'must name a PEM file with the ed25519 public key'),
  AGENT_ID: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'letters, digits, _ and - only (max 40)').default(hostname().replace(/[^A-Za-z0-9_-]/g, '-').slice(0, 40)),
  AGENT_MACHINE: z.string().optional(),
  AGENT_TIME_SCALE: z.coerce.number().positive().default(1),
  AGENT_KERNEL: z.enum(['auto', 'off']).default('auto'),
  AGENT_STATE_DIR: z.string().optional(),
});

function fail(variable: string, why: string): never {
  process.stderr.write(`agent: ${variable}: ${why}\n`);
  process.exit(2);
}

async function main(): Promise<void> {
  const parsed = envSchema.safeParse(process.env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail(String(issue.path[0]), issue.message);
  }
  const env = parsed.data;
  let publicKeyPem: string;
  try {
    publicKeyPem = readFileSync(env.AGENT_PUBLIC_KEY, 'utf8');
    if (!publicKeyPem.includes('BEGIN PUBLIC KEY')) throw new Error('not a PEM public key');
  } catch (e) {
    fail('AGENT_PUBLIC_KEY', (e as Error).message);
  }
  let machine: AgentMachine = {
    systemId: env.AGENT_ID,
    hostname: hostname(),
    devices: [{
      id: `${env.AGENT_ID}/cpu`, machineSystemId: env.AGENT_ID, kind: 'host-cpu', name: 'cpu', vendorId: null, productId: null, vendorName: null,
      productName: null, firmwareVersion: null, driver: null, pciAddress: null, interfaces: [], linkSpeedMbps: 0, profileId: null, dpuSystemId: null,
    }],
  };
  if (env.AGENT_MACHINE) {
    try {
      machine = JSON.parse(readFileSync(env.AGENT_MACHINE, 'utf8')) as AgentMachine;
      if (!machine.systemId || !Array.isArray(machine.devices)) throw new Error('needs systemId and devices[]');
    } catch (e) {
      fail('AGENT_MACHINE', (e as Error).message);
    }
  }
  const agent = await startAgent({
    id: env.AGENT_ID,
    host: env.AGENT_HOST,
    port: env.AGENT_PORT,
    token: env.AGENT_TOKEN,
    machine,
    profiles: loadProfiles(),
    publicKeyPem,
    timeScale: env.AGENT_TIME_SCALE,
    kernel: env.AGENT_KERNEL,
    stateDir: env.AGENT_STATE_DIR,
  });
  const stop = (): void => {
    agent.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
