import { loadConfigOrExit, resolveRedis } from '@ioplane/runtime';
import { createApi, listen } from './api.app';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  const redis = await resolveRedis(config);
  const app = await createApi({ config, redisUrl: redis.url, name: 'api' });
  const url = await listen(app, config.API_HOST, config.API_PORT);
  process.stdout.write(`ioplane api on ${url} (docs at ${url}/docs)\n`);
  const stop = async () => {
    await app.close();
    await redis.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
