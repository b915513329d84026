import { promises as fsp, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { buildAgentPackage } from './agent.build';
import { buildControllerPackage } from './controller.build';
import { lintian } from './deb';
import { run } from './package.process';

/**
 * `npm run package [-- --only agent|controller] [--out dir] [--no-lintian]`: builds the Debian
 * packages from this checkout with dpkg-deb, then runs lintian on them (an error fails the build).
 */
async function main(): Promise<void> {
  const repo = resolve(__dirname, '..');
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(name);
    return i > 0 ? process.argv[i + 1] : undefined;
  };
  const only = arg('--only');
  if (only && only !== 'agent' && only !== 'controller') throw new Error(`--only: must be agent or controller, got "${only}"`);
  const outDir = resolve(arg('--out') ?? join(repo, 'dist/packages'));
  await fsp.mkdir(join(repo, 'dist'), { recursive: true });
  const work = await fsp.mkdtemp(join(repo, 'dist/package-work-'));
  const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
  const arch = (await run('dpkg', ['--print-architecture'])).trim();
  // Both build at once (the machine has cores to spare while one waits on npm or compression);
  // the controller carries the agent package it serves to the machines MAAS deploys.
  const agent = !only || only === 'agent' ? buildAgentPackage(repo, work, outDir, version, arch) : undefined;
  const controller = !only || only === 'controller' ? buildControllerPackage(repo, work, outDir, version, arch, agent) : undefined;
  const built = (await Promise.all([agent, controller])).filter((d): d is string => !!d);
  await fsp.rm(work, { recursive: true, force: true, maxRetries: 5 });
  for (const deb of built) process.stdout.write(`built ${deb}\n`);
  if (process.argv.includes('--no-lintian')) return;
  const reports = await Promise.all(built.map((deb) => lintian(deb)));
  let failed = false;
  reports.forEach((l, i) => {
    process.stdout.write(`lintian ${built[i]}\n`);
    for (const line of [...l.errors, ...l.warnings]) process.stdout.write(`  ${line}\n`);
    process.stdout.write(`  lintian: ${l.errors.length} error(s), ${l.warnings.length} warning(s)\n`);
    failed ||= l.errors.length > 0;
  });
  if (failed) process.exit(1);
}

main().catch((e: Error) => {
  process.stderr.write(`package: ${e.message}\n`);
  process.exit(1);
});
