import { join } from 'node:path';
import { loadConfigOrExit, REDIS_PASSWORD_FILE, systemCheck } from '@ioplane/runtime';
import { startStack } from './stack';
import { readiness } from '../../api/src/health.controller';

/** `npm start`: the whole ioplane on the embedded default, serving until interrupted. */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  systemCheck();
  const stack = await startStack(config);
  process.stdout.write(
    [
      `ioplane is up`,
      `  api:   ${stack.apiUrl}  (docs ${stack.apiUrl}/docs)`,
      `  maas:  ${stack.maasUrl}${stack.embedded.maas ? '  (embedded simulator)' : ''}`,
      `  redis: ${stack.embedded.redis ? `embedded on 127.0.0.1, data in ${config.IOPLANE_DATA_DIR}/redis, password in ${join(config.IOPLANE_KEYS_DIR ?? join(config.IOPLANE_DATA_DIR, 'keys'), REDIS_PASSWORD_FILE)}` : 'REDIS_URL'}`,
      stack.adminToken
        ? `  first admin token (shown once): ${stack.adminToken}`
        : '  tokens: existing (create more with `ioplane tokens create --name n --role r`)',
      `Try: IOPLANE_TOKEN=<token> npm run cli -- fleet ls --api ${stack.apiUrl}`,
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    readiness.draining = true;
    await new Promise((r) => setTimeout(r, Number(process.env.DRAIN_GRACE_MS ?? 2000)));
    // Workers finish their current job inside stop() (BullMQ close), with the stack's bounded timeouts.
    await stack.stop();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((e) => {
  process.stderr.write(`ioplane: ${(e as Error).message}\n`);
  process.exit(1);
});
