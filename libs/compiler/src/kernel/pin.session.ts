import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { runProcess } from '../build/process.runner';
import { BPFFS_ROOT, bpftool, cleanStderr, KernelError } from './bpftool.client';

export interface LoadedObject {
  /** Private bpffs folder `/sys/fs/bpf/ioplane-<pid>-<hex>`. */
  dir: string;
  /** Pin of the selected program. */
  progPin: string;
  programName: string;
  mapsDir: string;
}

export type LoadOutcome =
  | { loaded: true; object: LoadedObject }
  | { loaded: false; verifierLog: string[]; stderr: string };

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

/** Refuses `LIBBPF_PIN_BY_NAME` maps: libbpf would pin (and reuse) them outside our private folder. */
async function refuseAutoPinning(objectPath: string): Promise<void> {
  const r = await bpftool(['btf', 'dump', 'file', objectPath]);
  if (r.code === 0 && /^\s+'pinning' type_id=/m.test(r.stdout)) {
    throw new KernelError('pinning_refused', 'the object declares maps with `pinning` (LIBBPF_PIN_BY_NAME); they would be pinned outside the private bpffs folder', 'objectPath');
  }
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
  throw new KernelError('program_not_found', `program ${program ?? '(none given)'} is ambiguous or missing; the object holds: ${pins.join(', ')}`, 'program');
}

/**
 * Loads every program of the object into a fresh private bpffs folder (maps under `maps/`),
 * hands the selected program to `fn`, and removes the folder afterwards whatever happens;
 * removing the last pin is what unloads the programs and frees the maps.
 */
export async function withLoadedObject<T>(
  objectPath: string,
  opts: { program?: string; type?: 'xdp' },
  fn: (outcome: LoadOutcome) => Promise<T>,
): Promise<T> {
  await fsp.access(objectPath).catch(() => {
    throw new KernelError('bad_input', `object ${objectPath} is not readable`, 'objectPath');
  });
  await refuseAutoPinning(objectPath);
  const dir = join(BPFFS_ROOT, `${pinDirPrefix()}${randomBytes(6).toString('hex')}`);
  await fsp.mkdir(dir, { mode: 0o700 });
  try {
    const progsDir = join(dir, 'progs');
    const mapsDir = join(dir, 'maps');
    const r = await bpftool(['prog', 'loadall', objectPath, progsDir, 'type', opts.type ?? 'xdp', 'pinmaps', mapsDir], 120_000);
    if (r.code !== 0) {
      return await fn({ loaded: false, verifierLog: extractVerifierErrors(r.stderr), stderr: r.stderr });
    }
    const programName = await selectProgram(objectPath, progsDir, opts.program);
    return await fn({ loaded: true, object: { dir, progPin: join(progsDir, programName), programName, mapsDir } });
  } finally {
    await fsp.rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
