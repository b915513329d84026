import { existsSync } from 'node:fs';
import { BuildError } from './build.error';
import { oncePerKey } from './build.once';
import { runProcess } from './process.runner';

export interface Toolchain {
  clang: string;
  /** First line of `clang --version`; part of every digest. */
  version: string;
  /** Compile flags without the input/output arguments; no path in here depends on the sandbox. */
  flags: string[];
}

async function query(clang: string, args: string[]): Promise<string> {
  const r = await runProcess(clang, args, { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${clang} ${args.join(' ')} failed: ${r.stderr.trim()}`);
  return r.stdout.trim();
}

async function probe(clang: string): Promise<Toolchain> {
  let version: string;
  let resourceDir: string;
  let multiarch = '';
  try {
    version = (await query(clang, ['--version'])).split('\n')[0].trim();
    resourceDir = await query(clang, ['-print-resource-dir']);
    multiarch = await query(clang, ['-print-multiarch']).catch(() => '');
  } catch (e) {
    throw new BuildError('tool_missing', `clang is not usable (${clang}): ${(e as Error).message}`, { field: 'clang', cause: e });
  }
  if (!multiarch) multiarch = `${process.arch === 'arm64' ? 'aarch64' : 'x86_64'}-linux-gnu`;
  const isystem = [`${resourceDir}/include`, '/usr/include', `/usr/include/${multiarch}`].filter((d) => existsSync(d));
  // -nostdinc + explicit -isystem: only these folders can satisfy <...>; -ffreestanding keeps
  // <stdint.h> from falling through to glibc's headers, which do not support the bpf target.
  const flags = [
    '-O2',
    '-g',
    '-target',
    'bpf',
    '-ffreestanding',
    '-nostdinc',
    ...isystem.flatMap((d) => ['-isystem', d]),
    '-fdebug-compilation-dir=.',
    '-fno-color-diagnostics',
    '-fno-caret-diagnostics',
  ];
  return { clang, version, flags };
}

const probeOnce = oncePerKey(probe);

/** Probes a clang binary once per process; a failed probe is retried on the next call. */
export function loadToolchain(clang = 'clang'): Promise<Toolchain> {
  return probeOnce(clang);
}

const BPFTOOL_CANDIDATES = ['/usr/sbin/bpftool', '/usr/bin/bpftool', '/sbin/bpftool', '/usr/local/sbin/bpftool'];

export function findBpftool(): string | null {
  return BPFTOOL_CANDIDATES.find((p) => existsSync(p)) ?? null;
}
