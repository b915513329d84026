import { systemCheck, SystemCheckError } from '@ioplane/runtime';

// Runs before `npm run demo`, before `npm test` (--tests) and `npm run package` (--packaging):
// installs what is missing when it may, else prints the command.
const tests = process.argv.includes('--tests');
const packaging = process.argv.includes('--packaging');
try {
  const r = systemCheck({ tests, packaging });
  if (r.installed.length) process.stdout.write(`ioplane: installed ${r.installed.join(' ')}\n`);
} catch (e) {
  if (!(e instanceof SystemCheckError)) throw e;
  process.stderr.write(`ioplane: ${e.message}\n`);
  process.exit(1);
}
