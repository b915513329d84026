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
  const work = join(repo, 'dist/package-work');
  await fsp.rm(work, { recursive: true, force: true });
  await fsp.mkdir(work, { recursive: true });
  const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
  const arch = (await run('dpkg', ['--print-architecture'])).trim();
  const built: string[] = [];
  const agent = !only || only === 'agent' ? await buildAgentPackage(repo, work, outDir, version, arch) : undefined;
  if (agent) built.push(agent);
  // The controller carries the agent package it serves to the machines MAAS deploys.
  if (!only || only === 'controller') built.push(await buildControllerPackage(repo, work, outDir, version, arch, agent));
  let failed = false;
  for (const deb of built) {
    process.stdout.write(`built ${deb}\n`);
    if (process.argv.includes('--no-lintian')) continue;
    const l = await lintian(deb);
    for (const line of [...l.errors, ...l.warnings]) process.stdout.write(`  ${line}\n`);
    process.stdout.write(`  lintian: ${l.errors.length} error(s), ${l.warnings.length} warning(s)\n`);
    failed ||= l.errors.length > 0;
  }
  await fsp.rm(work, { recursive: true, force: true });
  if (failed) process.exit(1);
}

main().catch((e: Error) => {
  process.stderr.write(`package: ${e.message}\n`);
  process.exit(1);
});
