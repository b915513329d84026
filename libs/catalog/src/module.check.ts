import { readFile } from 'node:fs/promises';
import type { FirmwareProfile } from '@ioplane/domain';
import {
  analyzeObjectAsync,
  BuildArtifact,
  buildModule,
  deployedProgram,
  estimateNsPerPacket,
  hostKernelLimits,
  importObject,
  kernelAvailable,
  kernelLoadType,
  kernelVerify,
  ObjectFacts,
  ProgramFacts,
  runVectors,
  SandboxOptions,
  summarizePrograms,
  verifyOffload,
} from '@ioplane/compiler';
import { ModuleManifest, packetHex } from '@ioplane/modules';
import { ModuleReport } from './module.report';

export interface CheckOptions {
  cacheDir: string;
  profiles: FirmwareProfile[];
  /** `auto` uses the kernel where it can; `off` never touches it (static checks only). */
  kernel?: 'auto' | 'off';
  signal?: AbortSignal;
  /**
   * The module ships with ioplane (modules/): it may build without the OS sandbox where bwrap
   * cannot run. Anything else, an upload or a folder given to the CLI, is then refused.
   */
  shipped?: boolean;
  sandbox?: SandboxOptions;
  onStage?: (stage: 'build' | 'analyse' | 'verify' | 'kernel' | 'vectors') => void;
}

/** Bad input: the object or the manifest is wrong. */
export class CatalogError extends Error {
  constructor(
    readonly code: 'program_not_found' | 'no_program',
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

/** Well-formed input that the kernel or the module's own test vectors refuse. */
export class CatalogRefusal extends Error {
  constructor(
    readonly code: 'kernel_refused' | 'vectors_failed',
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

/** Finds the manifest's program by function name, then by section name; without one, the program the object deploys. */
export function selectProgram(facts: ObjectFacts, program: string | undefined): ProgramFacts {
  if (facts.programs.length === 0) throw new CatalogError('no_program', 'the object holds no BPF program', 'object');
  const found = deployedProgram(facts, program);
  if (!found) {
    const have = facts.programs.map((p) => `${p.name} (section ${p.section})`).join(', ');
    throw new CatalogError('program_not_found', `program "${program}" not in the object; it has ${have}`, 'program');
  }
  return found;
}

/** Builds a catalog module with clang and checks it everywhere it could run. */
export async function checkModule(m: ModuleManifest, opts: CheckOptions): Promise<ModuleReport> {
  return checkArtifact(await buildCatalogModule(m, opts), catalogMeta(m), opts);
}

export function buildCatalogModule(
  m: ModuleManifest,
  opts: Pick<CheckOptions, 'cacheDir' | 'signal' | 'onStage' | 'shipped' | 'sandbox'>,
): Promise<BuildArtifact> {
  opts.onStage?.('build');
  return buildModule(
    { name: m.name, dir: m.dir!, sources: m.sources, shipped: opts.shipped },
    { cacheDir: opts.cacheDir, signal: opts.signal, sandbox: opts.sandbox },
  );
}

export function catalogMeta(m: ModuleManifest) {
  return { name: m.name, version: m.version, origin: 'catalog' as const, program: m.program, manifest: m };
}

/** Checks a BPF object built elsewhere, exactly as a built one. */
export async function checkObject(
  object: Buffer,
  meta: { name: string; version: string; program?: string; type?: string; manifest?: ModuleManifest },
  opts: CheckOptions,
): Promise<ModuleReport> {
  const artifact = importObject(object, { cacheDir: opts.cacheDir });
  return checkArtifact(artifact, { ...meta, origin: 'object' }, opts);
}

/** Checks an artifact already built or imported. */
export async function checkArtifact(
  artifact: BuildArtifact,
  meta: { name: string; version: string; origin: 'catalog' | 'object'; program?: string; type?: string; manifest?: ModuleManifest },
  opts: CheckOptions,
): Promise<ModuleReport> {
  opts.onStage?.('analyse');
  // The manifest's or --type's type names the deployed program's type (or, with no program named, any custom section's).
  const type = meta.type ?? meta.manifest?.type;
  // The BTF dump runs in a child process the event loop does not wait on: the API keeps answering.
  const facts = await analyzeObjectAsync(await readFile(artifact.objectPath), type ? { types: { [meta.program ?? '*']: type } } : {});
  const program = selectProgram(facts, meta.program);
  const maps = facts.maps.filter((mp) => program.maps.some((u) => u.name === mp.name));

  opts.onStage?.('verify');
  const profiles = [hostKernelLimits(), ...opts.profiles];
  const verdicts = profiles.map((p) => verifyOffload(facts, program.name, p));
  const loadType = kernelLoadType(facts, program, type);

  const kernel = opts.kernel === 'off' ? { ok: false, reason: 'kernel checks turned off' } : await kernelAvailable();
  let verify = null;
  let vectors = null;
  if (kernel.ok) {
    opts.onStage?.('kernel');
    verify = await kernelVerify(artifact.objectPath, { program: program.name, type: loadType });
    if (verify.accepted && meta.manifest?.vectors.length) {
      opts.onStage?.('vectors');
      vectors = await runVectors(
        artifact.objectPath,
        meta.manifest.vectors.map((v) => ({
          name: v.name,
          packet: Buffer.from(packetHex(v), 'hex'),
          expectVerdict: v.expect.verdict,
          expectOutput: v.expect.outputHex ? Buffer.from(v.expect.outputHex, 'hex') : undefined,
          repeat: v.repeat,
        })),
        { program: program.name, type: loadType, seed: meta.manifest.seed, harness: true },
      );
    }
  }
  const timed = (vectors ?? []).filter((v) => v.passed && v.nsPerPacket > 0);
  const measured = timed.map((v) => v.nsPerPacket);
  // The harness figure counts only when every timed packet has one, so both medians cover the same packets.
  const harness = timed.every((v) => typeof v.harnessNsPerPacket === 'number' && v.harnessNsPerPacket > 0)
    ? timed.map((v) => v.harnessNsPerPacket!)
    : [];
  const cost: ModuleReport['cost'] = measured.length
    ? { nsPerPacket: median(measured), estimated: false, source: 'kernel', ...(harness.length ? { harnessNs: median(harness) } : {}) }
    : { nsPerPacket: estimateNsPerPacket(program.totalInstructions).ns, estimated: true, source: 'estimate' };

  return {
    module: { name: meta.name, version: meta.version, origin: meta.origin },
    artifact,
    program,
    programs: summarizePrograms(facts, profiles, program.name, verify),
    maps,
    verdicts,
    kernel: { available: kernel.ok, reason: kernel.reason, verify },
    vectors,
    cost,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}
