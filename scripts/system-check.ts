import { systemCheck, SystemCheckError } from '@ioplane/runtime';

// Runs before `npm test` and `npm run demo`: installs what is missing when it may, else prints the command.
try {
  const r = systemCheck();
  if (r.installed.length) process.stdout.write(`ioplane: installed ${r.installed.join(' ')}\n`);
} catch (e) {
  if (!(e instanceof SystemCheckError)) throw e;
  process.stderr.write(`ioplane: ${e.message}\n`);
  process.exit(1);
}
