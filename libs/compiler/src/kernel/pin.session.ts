import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { findBpftool } from '../build/clang.toolchain';
import { runSandboxed, sandboxAvailableSync } from '../build/os.sandbox';
import { runProcess, RunResult } from '../build/process.runner';
import { BPFFS_ROOT, cleanStderr, KernelError } from './bpftool.client';

export interface LoadedObject {
  /** Private bpffs folder `/sys/fs/bpf/ioplane-<pid>-<hex>`: the pin root of this load. */
  dir: string;
  /** Pin of the selected program. */
  progPin: string;
  programName: string;
  /** Every program of the object the kernel took (all of them: loadall is all or nothing). */
  programs: string[];
  /** Maps, pinned by name (the pin root itself; PROGS_PIN_DIR there is not a map). */
  mapsDir: string;
}

export type LoadOutcome =
  { loaded: true; object: LoadedObject } | { loaded: false; verifierLog: string[]; stderr: string; refusedProgram?: string };

/** Prefix of every pin folder this process creates; tests use it to prove nothing is left behind. */
export function pinDirPrefix(): string {
  return `ioplane-${process.pid}-`;
}

/**
 * Error lines of a refused load: the verifier's own messages between libbpf's BEGIN/END markers,
 * without the instruction trace and source annotations; if the kernel never ran the verifier
 * (bad ELF, missing BTF...) the libbpf lines instead.
 */
export function extractVerifierErrors(stderr: string): string[] {
  const lines = cleanStderr(stderr);
  const begin = lines.findIndex((l) => l.includes('-- BEGIN PROG LOAD LOG --'));
  const end = lines.findIndex((l, i) => i > begin && l.includes('-- END PROG LOAD LOG --'));
  if (begin >= 0) {
    const log = lines.slice(begin + 1, end < 0 ? undefined : end);
    const errors = log.filter(
      (l) =>
        !/^\d+: /.test(l) &&
        !/^; /.test(l) &&
        !/^\s/.test(l) &&
        !/^(verification time|stack depth|processed \d+ insns|func#\d|last_idx|regs=|parent didn't have)/.test(l),
    );
    if (errors.length > 0) return errors;
    return log.slice(-5);
  }
  return lines.filter((l) => !/^Error: failed to load object file$/.test(l));
}

const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'];
/** Program pins inside the pin root; the dash keeps them apart from maps, whose names are C identifiers (bpffs refuses dots). */
export const PROGS_PIN_DIR = 'progs-ioplane';
const PROGS = PROGS_PIN_DIR;

/**
 * `bpftool prog loadall` with the object's bpffs view confined to `dir`: in a private mount namespace
 * `dir` is bound over /sys/fs/bpf, so libbpf's pin root for `pinning` (LIBBPF_PIN_BY_NAME) maps, the
 * program pins and `pinmaps` all land in `dir`, and a by-name pin can neither reuse nor clobber a map
 * someone else pinned on the host. bpftool offers no pin-root option; the namespace is the pin root.
 * Pins outlive the namespace (same bpffs instance), so the caller reads them at `dir`.
 */
async function loadAllConfined(objectPath: string, dir: string, type: string | undefined): Promise<RunResult> {
  const bin = findBpftool();
  if (!bin) throw new KernelError('bpftool_missing', 'bpftool is not installed (looked in /usr/sbin, /usr/bin, /sbin, /usr/local/sbin)');
  const unshare = UNSHARE.find((p) => existsSync(p));
  if (!unshare)
    throw new KernelError('pinning_refused', 'unshare (util-linux) is missing: it gives each kernel load a private pin root', 'objectPath');
  const args = ['prog', 'loadall', objectPath, join(BPFFS_ROOT, PROGS), ...(type ? ['type', type] : []), 'pinmaps', BPFFS_ROOT];
  // In the kernel sandbox the check's folder is the only bpffs there is, bound at /sys/fs/bpf, and
  // the object the only file: an uploaded object's loader sees nothing else of the controller.
  if (sandboxAvailableSync('kernel').ok) {
    const binds = [
      { path: objectPath, writable: false },
      { path: dir, writable: true, at: BPFFS_ROOT },
    ];
    return runSandboxed({ kind: 'kernel', binds }, bin, args, { timeoutMs: 120_000, fileSizeBytes: 64 * 1024 * 1024 });
  }
  const script = 'mount --bind "$0" "$1" && shift && exec "$@"';
  return runProcess(unshare, ['--mount', '--propagation', 'private', '--', '/bin/sh', '-c', script, dir, BPFFS_ROOT, bin, ...args], {
    timeoutMs: 120_000,
    env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' },
  });
}

/** The program libbpf names when the kernel refuses one (`libbpf: prog 'xdp_pass': BPF program load failed`). */
export function refusedProgramOf(stderr: string): string | undefined {
  return /libbpf: prog '([^']+)': (?:BPF program load failed|failed to load)/.exec(stderr)?.[1];
}

async function functionsInSection(objectPath: string, section: string): Promise<string[]> {
  const objdump = ['/usr/bin/llvm-objdump', '/usr/bin/llvm-objdump-14'].find((p) => existsSync(p));
  if (!objdump) return [];
  const r = await runProcess(objdump, ['-t', objectPath], { timeoutMs: 10_000 });
  if (r.code !== 0) return [];
  const out: string[] = [];
  for (const line of r.stdout.split('\n')) {
    // 0000000000000000 g     F xdp	00000000000001e0 swap
    const m = /^[0-9a-f]+\s+\S+\s+F\s+(\S+)\s+[0-9a-f]+\s+(\S+)$/.exec(line.trim());
    if (m && m[1] === section) out.push(m[2]);
  }
  return out;
}

async function selectProgram(objectPath: string, progsDir: string, program?: string): Promise<string> {
  const pins = (await fsp.readdir(progsDir)).sort();
  if (pins.length === 0) throw new KernelError('program_not_found', 'the object holds no program', 'program');
  if (program && pins.includes(program)) return program;
  if (!program && pins.length === 1) return pins[0];
  if (program) {
    const inSection = (await functionsInSection(objectPath, program)).filter((f) => pins.includes(f));
    if (inSection.length === 1) return inSection[0];
    if (pins.length === 1 && inSection.length === 0 && program === 'xdp') return pins[0];
  }
  throw new KernelError(
    'program_not_found',
    `program ${program ?? '(none given)'} is ambiguous or missing; the object holds: ${pins.join(', ')}`,
    'program',
  );
}

/**
 * Loads every program of the object into a fresh private bpffs folder that serves as the load's pin
 * root (maps pinned by name there, programs under `progs/`), hands the selected program to `fn`, and
 * removes the folder afterwards whatever happens; removing the last pin is what unloads the programs
 * and frees the maps. `type` is a libbpf section-style type (`xdp`, `xdp/devmap`, `tc`...) given to
 * every program, as `bpftool prog loadall ... type` does; without it libbpf reads each section.
 */
export async function withLoadedObject<T>(
  objectPath: string,
  opts: { program?: string; type?: string },
  fn: (outcome: LoadOutcome) => Promise<T>,
): Promise<T> {
  await fsp.access(objectPath).catch(() => {
    throw new KernelError('bad_input', `object ${objectPath} is not readable`, 'objectPath');
  });
  if (opts.type !== undefined && !/^[a-z][a-z0-9_./+-]*$/.test(opts.type)) {
    throw new KernelError(
      'bad_input',
      `type ${JSON.stringify(opts.type)} is not a libbpf program type name (xdp, xdp/devmap, tc, ...)`,
      'type',
    );
  }
  const dir = join(BPFFS_ROOT, `${pinDirPrefix()}${randomBytes(6).toString('hex')}`);
  await fsp.mkdir(dir, { mode: 0o700 });
  try {
    const progsDir = join(dir, PROGS);
    const r = await loadAllConfined(objectPath, dir, opts.type);
    if (r.code !== 0) {
      return await fn({
        loaded: false,
        verifierLog: extractVerifierErrors(r.stderr),
        stderr: r.stderr,
        refusedProgram: refusedProgramOf(r.stderr),
      });
    }
    const programs = (await fsp.readdir(progsDir).catch(() => [] as string[])).sort();
    const programName = await selectProgram(objectPath, progsDir, opts.program);
    return await fn({ loaded: true, object: { dir, progPin: join(progsDir, programName), programName, programs, mapsDir: dir } });
  } finally {
    await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
