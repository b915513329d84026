import { systemCheck, SystemCheckError } from '@ioplane/runtime';

// Runs before `npm run demo` and (with --tests) before `npm test`: installs what is missing when it may, else prints the command.
const tests = process.argv.includes('--tests');
try {
  const r = systemCheck({ tests });
  if (r.installed.length) process.stdout.write(`ioplane: installed ${r.installed.join(' ')}\n`);
} catch (e) {
  if (!(e instanceof SystemCheckError)) throw e;
  process.stderr.write(`ioplane: ${e.message}\n`);
  process.exit(1);
}
