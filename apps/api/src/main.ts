import { loadConfigOrExit, resolveRedis } from '@ioplane/runtime';
import { bootstrapAdminToken, createApi, listen } from './api.app';
import { readiness } from './health.controller';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const redis = await resolveRedis(config);
  const app = await createApi({ config, redisUrl: redis.url, name: 'api' });
  const url = await listen(app, config.API_HOST, config.API_PORT);
  process.stdout.write(`ioplane api on ${url} (docs at ${url}/docs)\n`);
  const admin = await bootstrapAdminToken(app);
  if (admin) process.stdout.write(`first admin token (shown once; create others with \`ioplane tokens create\`): ${admin}\n`);
  const stop = async () => {
    readiness.draining = true;
    // Let load balancers see /readyz fail before connections close.
    await new Promise((r) => setTimeout(r, Number(process.env.DRAIN_GRACE_MS ?? 2000)));
    await app.close();
    await redis.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
