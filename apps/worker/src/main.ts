import { loadConfigOrExit, resolveRedis } from '@ioplane/runtime';
import { createWorker } from './worker.app';

async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (!config.MAAS_URL || !config.MAAS_API_KEY) {
    process.stderr.write('ioplane worker: set MAAS_URL and MAAS_API_KEY (or run `npm start` for the embedded fleet)\n');
    process.exit(1);
  }
  const redis = await resolveRedis(config);
  const app = await createWorker({
    config,
    redisUrl: redis.url,
    name: 'worker',
    maas: { url: config.MAAS_URL, apiKey: config.MAAS_API_KEY },
  });
  // close() runs the shutdown hooks: BullMQ workers finish their current job first.
  const stop = async () => {
    await app.close();
    await redis.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

void main();
