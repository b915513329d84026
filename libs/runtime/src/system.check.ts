import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { arch } from 'node:os';
import { delimiter, join } from 'node:path';

/** Debian's multiarch triplet for this machine: where arch-specific data files (libxdp's objects) live. */
export function multiarchTriplet(a: string = arch()): string {
  const triplet: Record<string, string> = {
    x64: 'x86_64-linux-gnu',
    arm64: 'aarch64-linux-gnu',
    ppc64: 'powerpc64le-linux-gnu',
    s390x: 's390x-linux-gnu',
    riscv64: 'riscv64-linux-gnu',
  };
  return triplet[a] ?? `${a}-linux-gnu`;
}

/**
 * What ioplane and its tests need, and the Debian/Ubuntu package that provides it. A requirement is
 * a command on PATH (sbin included) or, for packages without one, a file the package installs.
 */
export interface Requirement {
  command?: string;
  file?: string;
  packages: string[];
  /** Needed by `npm test` only (browser test, packaging test), not to run ioplane. */
  testsOnly?: boolean;
  /** Needed by `npm run package` (and by `npm test`, which builds the packages). */
  packaging?: boolean;
}

export const REQUIRED_TOOLS: ReadonlyArray<Requirement> = [
  { command: 'redis-server', packages: ['redis-server'] },
  { command: 'redis-sentinel', packages: ['redis-sentinel'], testsOnly: true },
  { command: 'clang', packages: ['clang', 'libbpf-dev'] },
  { file: '/usr/include/bpf/bpf_helpers.h', packages: ['libbpf-dev'] },
  { command: 'llvm-objdump', packages: ['llvm'] },
  { command: 'bpftool', packages: ['bpftool'] },
  { command: 'ip', packages: ['iproute2'] },
  { command: 'bwrap', packages: ['bubblewrap'] },
  { command: 'ethtool', packages: ['ethtool'] },
  { file: `/usr/lib/${multiarchTriplet()}/bpf/xdp-dispatcher.o`, packages: ['libxdp1'] },
  // The fleet map's browser test drives Debian's Chromium.
  { file: '/usr/bin/chromium', packages: ['chromium'], testsOnly: true },
  // `npm run package` and its test: dpkg-deb builds, dpkg-shlibdeps finds the libraries, strip trims
  // the executables, lintian checks; the test verifies the units with systemd-analyze.
  { command: 'dpkg-deb', packages: ['dpkg'], testsOnly: true, packaging: true },
  { command: 'dpkg-shlibdeps', packages: ['dpkg-dev'], testsOnly: true, packaging: true },
  { command: 'strip', packages: ['binutils'], testsOnly: true, packaging: true },
  { command: 'lintian', packages: ['lintian'], testsOnly: true, packaging: true },
  { command: 'systemd-analyze', packages: ['systemd'], testsOnly: true },
];

export function onPath(command: string, path = process.env.PATH ?? ''): boolean {
  // bpftool and ip live in sbin, which a non-login root shell may lack.
  const dirs = [...path.split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.some((d) => d && existsSync(join(d, command)));
}

const present = (r: Requirement): boolean => (r.command ? onPath(r.command) : existsSync(r.file!));
const nameOf = (r: Requirement): string => r.command ?? r.file!;

export interface SystemCheckResult {
  missing: string[];
  installed: string[];
}

export class SystemCheckError extends Error {
  readonly code = 'system';
  constructor(
    readonly missing: string[],
    readonly installCommand: string,
  ) {
    super(`missing tools: ${missing.join(', ')}. Install them with:\n  ${installCommand}`);
  }
}

function isDebian(): boolean {
  return existsSync('/etc/debian_version') && onPath('apt-get');
}

/**
 * Finds missing tools (with `tests`, also those only the test suite needs; with `packaging`, those
 * `npm run package` needs); installs them with
 * apt-get when we are root on Debian/Ubuntu, otherwise stops with the exact command to run.
 */
export function systemCheck(
  opts: {
    install?: boolean;
    log?: (line: string) => void;
    tests?: boolean;
    packaging?: boolean;
    requirements?: ReadonlyArray<Requirement>;
  } = {},
): SystemCheckResult {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const required = (opts.requirements ?? REQUIRED_TOOLS).filter((r) => opts.tests || !r.testsOnly || (opts.packaging && r.packaging));
  const missingTools = required.filter((t) => !present(t));
  if (missingTools.length === 0) return { missing: [], installed: [] };
  const packages = [...new Set(missingTools.flatMap((t) => t.packages))];
  const names = missingTools.map(nameOf);
  const command = `sudo apt-get update && sudo apt-get install -y ${packages.join(' ')}`;
  const root = process.getuid?.() === 0;
  if (opts.install === false || !root || !isDebian()) throw new SystemCheckError(names, command);
  log(`ioplane: installing ${packages.join(' ')} for ${names.join(', ')} (apt-get)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', ...packages],
  ]) {
    const r = spawnSync('apt-get', args, { stdio: ['ignore', 'inherit', 'inherit'], env });
    if (r.status !== 0) throw new SystemCheckError(names, command);
  }
  const still = required.filter((t) => !present(t)).map(nameOf);
  if (still.length) throw new SystemCheckError(still, command);
  return { missing: [], installed: packages };
}
