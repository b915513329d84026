import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Each tool ioplane needs, and the Debian/Ubuntu package that provides it. */
export const REQUIRED_TOOLS: ReadonlyArray<{ command: string; packages: string[] }> = [
  { command: 'redis-server', packages: ['redis-server'] },
  { command: 'clang', packages: ['clang', 'libbpf-dev'] },
  { command: 'llvm-objdump', packages: ['llvm'] },
  { command: 'bpftool', packages: ['bpftool'] },
  { command: 'ip', packages: ['iproute2'] },
  { command: 'bwrap', packages: ['bubblewrap'] },
];

export function onPath(command: string, path = process.env.PATH ?? ''): boolean {
  // bpftool and ip live in sbin, which a non-login root shell may lack.
  const dirs = [...path.split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.some((d) => d && existsSync(join(d, command)));
}

export interface SystemCheckResult {
  missing: string[];
  installed: string[];
}

export class SystemCheckError extends Error {
  readonly code = 'system';
  constructor(readonly missing: string[], readonly installCommand: string) {
    super(`missing tools: ${missing.join(', ')}. Install them with:\n  ${installCommand}`);
  }
}

function isDebian(): boolean {
  return existsSync('/etc/debian_version') && onPath('apt-get');
}

/**
 * Finds missing tools; installs them with apt-get when we are root on Debian/Ubuntu,
 * otherwise stops with the exact command for the operator to run.
 */
export function systemCheck(opts: { install?: boolean; log?: (line: string) => void } = {}): SystemCheckResult {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const missingTools = REQUIRED_TOOLS.filter((t) => !onPath(t.command));
  if (missingTools.length === 0) return { missing: [], installed: [] };
  const packages = [...new Set(missingTools.flatMap((t) => t.packages))];
  const names = missingTools.map((t) => t.command);
  const command = `sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}`;
  const root = process.getuid?.() === 0;
  if (opts.install === false || !root || !isDebian()) throw new SystemCheckError(names, command);
  log(`ioplane: installing ${packages.join(' ')} for ${names.join(', ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...packages]]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    if (r.status !== 0) throw new SystemCheckError(names, command);
  }
  const still = REQUIRED_TOOLS.filter((t) => !onPath(t.command)).map((t) => t.command);
  if (still.length) throw new SystemCheckError(still, command);
  return { missing: [], installed: packages };
}
