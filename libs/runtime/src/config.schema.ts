import { z } from 'zod';

const port = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int('must be an integer')
    .min(0, 'must be 0..65535')
    .max(65535, 'must be 0..65535')
    .default(fallback);

const millis = (fallback: number) =>
  z.coerce.number({ error: 'must be a number' }).int('must be an integer').min(100, 'must be at least 100 ms').default(fallback);

/** Every environment variable ioplane reads, with its default. Validated once at start-up. */
export const configSchema = z.object({
  /** redis://, rediss://, redis+sentinel://s1,s2/<master> or redis+cluster://n1,n2 (see redis.endpoint.ts). */
  REDIS_URL: z
    .string()
    .regex(/^(rediss?|redis\+sentinel|redis\+cluster):\/\//, 'must start with redis://, rediss://, redis+sentinel:// or redis+cluster://')
    .optional(),
  /** Sentinel instead of one server: host:port,... of the sentinels and the master name they monitor. */
  REDIS_SENTINELS: z.string().min(1).optional(),
  REDIS_SENTINEL_NAME: z.string().min(1).optional(),
  REDIS_SENTINEL_PASSWORD: z.string().min(1).optional(),
  /** A Redis Cluster's seed nodes, host:port,... */
  REDIS_CLUSTER_NODES: z.string().min(1).optional(),
  /** The data nodes' password with REDIS_SENTINELS or REDIS_CLUSTER_NODES (a URL carries its own). */
  REDIS_PASSWORD: z.string().min(1).optional(),
  IOPLANE_DATA_DIR: z.string().min(1).default('var'),
  IOPLANE_PREFIX: z
    .string()
    .regex(/^[a-z0-9-]+$/, 'must be lowercase letters, digits or -')
    .default('ioplane'),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: port(8080),
  IOPLANE_API_URL: z.url({ error: 'must be a URL' }).default('http://127.0.0.1:8080'),
  MAAS_URL: z.url({ error: 'must be a URL' }).optional(),
  MAAS_API_KEY: z
    .string()
    .regex(/^[^:\s]+:[^:\s]+:[^:\s]+$/, 'must be consumer_key:token_key:token_secret')
    .optional(),
  MAAS_HOST: z.string().min(1).default('127.0.0.1'),
  MAAS_PORT: port(5240),
  FLEET_FILE: z.string().min(1).default('fleets/demo.yaml'),
  FLEET_SYNC_INTERVAL_MS: millis(60_000),
  MAAS_EVENTS_INTERVAL_MS: millis(5_000),
  /** How long the API awaits a worker's answer to a dry run before 503 dry_run_timeout (the API never solves one itself). */
  DRY_RUN_DEADLINE_MS: millis(120_000),
  /** Port of the host agents (each listens on its host's management address). */
  AGENT_PORT: port(9440),
  /** Where machines MAAS deploys for ioplane get the agent package: a .deb URL they can reach... */
  IOPLANE_AGENT_PACKAGE_URL: z.url({ error: 'must be a URL' }).optional(),
  /** ...or a one-line apt source that has ioplane-agent. */
  IOPLANE_AGENT_APT_SOURCE: z
    .string()
    .regex(/^deb \S/, 'must be a one-line apt source: deb [options] <uri> <suite> <component>')
    .optional(),
  /** The folder GET /v1/agent-package serves ioplane-agent_<version>_<arch>.deb from (the controller package installs it there). */
  IOPLANE_AGENT_PACKAGES_DIR: z.string().min(1).default('/usr/share/ioplane/agent'),
  /** The distro_series MAAS deploys: one that has the agent package's dependencies (glibc 2.34+, bpftool, libbpf1). */
  IOPLANE_DEPLOY_DISTRO: z
    .string()
    .regex(/^[a-z0-9./-]+$/, 'must be a MAAS distro_series (noble, ubuntu/noble)')
    .default('noble'),
  /** How long a deployment may take before the job gives up on it (MAAS's own node_timeout is 30 min). */
  IOPLANE_DEPLOY_TIMEOUT_MS: millis(30 * 60_000),
  /** Signing key pair and the agent token secret; created on first start. */
  IOPLANE_KEYS_DIR: z.string().min(1).optional(),
  /** Mutating API calls per minute per token. */
  API_RATE_LIMIT: z.coerce.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be at least 1').default(600),
  /** Requests refused for authentication (401/403) per minute per client address; past it 429, and nothing is written. */
  API_REFUSED_LIMIT: z.coerce.number({ error: 'must be a number' }).int('must be an integer').min(1, 'must be at least 1').default(60),
  /** on: every JSON answer is checked against its documented schema (a mismatch is a 500 response_contract); the e2e tests turn it on. */
  IOPLANE_CHECK_RESPONSES: z.enum(['on', 'off'], { error: 'must be on or off' }).default('off'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type IoplaneConfig = z.infer<typeof configSchema>;
