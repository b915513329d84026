import { parseRedisEndpoint, RedisEndpointError, redisUrlFrom } from './redis.endpoint';
import { configSchema, IoplaneConfig } from './config.schema';

export class ConfigError extends Error {
  readonly code = 'config';
  constructor(
    readonly variable: string,
    readonly reason: string,
  ) {
    super(`invalid environment variable ${variable}: ${reason}`);
  }
}

/** Reads and validates the environment. Empty strings count as unset, as shells often export them. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): IoplaneConfig {
  const input: Record<string, string> = {};
  for (const key of Object.keys(configSchema.shape)) {
    const value = env[key];
    if (value !== undefined && value !== '') input[key] = value;
  }
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(String(issue.path[0] ?? '?'), issue.message);
  }
  // One URL carries the deployment's shape from here on (Sentinel and Cluster variables folded in).
  try {
    const url = redisUrlFrom(parsed.data);
    if (url) parseRedisEndpoint(url);
    return { ...parsed.data, REDIS_URL: url };
  } catch (e) {
    if (e instanceof RedisEndpointError) throw new ConfigError(e.field, e.message);
    throw e;
  }
}

/** For entry points: a bad value stops the process with a message naming the variable. */
export function loadConfigOrExit(env: NodeJS.ProcessEnv = process.env): IoplaneConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ioplane: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
