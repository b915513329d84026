import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XDP_ACTIONS, XdpAction } from '@ioplane/domain';
import { bpftool, bpftoolOk, cleanStderr, KernelError } from './bpftool.client';
import { harnessObject, HARNESS_PROGRAM } from './harness.program';
import { LoadedObject, PROGS_PIN_DIR, withLoadedObject } from './pin.session';

export interface KernelVector {
  name: string;
  packet: Buffer;
  expectVerdict: XdpAction;
  expectOutput?: Buffer;
  /** Run the packet this many times first (same map state), then check the next run. */
  repeat?: number;
}

export interface MapSeed {
  /** Map name as pinned by libbpf (the C variable name for BTF maps). */
  map: string;
  /** Hex bytes, spaces and a 0x prefix allowed: `0a000001`, `0a 00 00 01`. */
  key: string;
  value: string;
}

export interface RunVectorsOptions {
  program?: string;
  /** libbpf type for the load (`xdp`...); default: libbpf reads each program's section. */
  type?: string;
  seed?: MapSeed[];
  /** Runs used to time each vector, after all checks. Default 10000; 0 times the checked run. */
  timingRepeat?: number;
  /**
   * Also time an empty XDP program (returns XDP_PASS) on each timed vector's packet with the same
   * repeat: BPF_PROG_TEST_RUN's own cost per packet, which a module's figure includes.
   */
  harness?: boolean;
}

export interface VectorResult {
  name: string;
  passed: boolean;
  expectedVerdict: XdpAction;
  /** `XDP_*`, `UNKNOWN(n)` for other return values, `NOT_RUN` when the vector could not run. */
  actualVerdict: string;
  expectedOutputHex?: string;
  actualOutputHex?: string;
  /** Measured kernel run time per packet; 0 when the vector could not run. */
  nsPerPacket: number;
  /** The empty harness program's run time on the same packet and repeat (RunVectorsOptions.harness); absent when not measured. */
  harnessNsPerPacket?: number;
  reason?: string;
}

export const NOT_RUN = 'NOT_RUN';
/** XDP test runs need at least an Ethernet header. */
const MIN_PACKET = 14;
/** Room for programs that grow the packet (xdp_adjust_head/tail). */
const OUTPUT_SLACK = 512;

export function verdictName(code: number): string {
  return XDP_ACTIONS[code] ?? `UNKNOWN(${code})`;
}

function hexBytes(s: string, field: string): string[] {
  const clean = s.replace(/0x/gi, '').replace(/[\s:,]/g, '');
  if (clean === '' || clean.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(clean)) {
    throw new KernelError('bad_input', `${field} is not a hex byte string: ${JSON.stringify(s)}`, field);
  }
  return clean.toLowerCase().match(/../g)!;
}

export function parseRunOutput(stdout: string): { retval: number; durationNs: number } | null {
  const m = /Return value:\s*(\d+),\s*duration(?:\s*\(average\))?:\s*(\d+)\s*ns/.exec(stdout);
  return m ? { retval: Number(m[1]), durationNs: Number(m[2]) } : null;
}

/** Names the first differing byte and shows a few bytes around it on both sides. */
export function describeOutputDiff(expected: Buffer, actual: Buffer): string | null {
  const n = Math.min(expected.length, actual.length);
  let off = 0;
  while (off < n && expected[off] === actual[off]) off++;
  if (off === n && expected.length === actual.length) return null;
  const from = Math.max(0, off - 4);
  const win = (b: Buffer): string =>
    b
      .subarray(from, off + 8)
      .toString('hex')
      .replace(/(..)/g, '$1 ')
      .trim() || '(end)';
  const lengths = expected.length === actual.length ? '' : ` (expected ${expected.length} bytes, got ${actual.length})`;
  return `output differs at byte ${off}${lengths}: expected [${win(expected)}] got [${win(actual)}] from byte ${from}`;
}

async function seedMaps(obj: LoadedObject, seeds: MapSeed[]): Promise<void> {
  const present = new Set((await fsp.readdir(obj.mapsDir).catch(() => [] as string[])).filter((n) => n !== PROGS_PIN_DIR));
  for (const [i, s] of seeds.entries()) {
    if (!/^[A-Za-z0-9_.]+$/.test(s.map) || !present.has(s.map)) {
      throw new KernelError(
        'bad_input',
        `seed map ${s.map} does not exist; maps: ${[...present].join(', ') || '(none)'}`,
        `seed[${i}].map`,
      );
    }
    const key = hexBytes(s.key, `seed[${i}].key`);
    const value = hexBytes(s.value, `seed[${i}].value`);
    await bpftoolOk(['map', 'update', 'pinned', join(obj.mapsDir, s.map), 'key', 'hex', ...key, 'value', 'hex', ...value]);
  }
}

/** The result of vector `v` before it runs: not passed, NOT_RUN, no time measured. */
export function notRunResult(v: Pick<KernelVector, 'name' | 'expectVerdict' | 'expectOutput'>): VectorResult {
  return {
    name: v.name,
    passed: false,
    expectedVerdict: v.expectVerdict,
    actualVerdict: NOT_RUN,
    expectedOutputHex: v.expectOutput?.toString('hex'),
    nsPerPacket: 0,
  };
}

/** Why vector `v` cannot run at all: its packet is shorter than an XDP test run takes; null if it can. */
export function packetTooShort(v: Pick<KernelVector, 'name' | 'packet'>): string | null {
  return v.packet.length < MIN_PACKET
    ? `vector "${v.name}": packet is ${v.packet.length} bytes, XDP test runs need at least ${MIN_PACKET}`
    : null;
}

async function runOnce(pin: string, inFile: string, repeat: number, outFile?: string, outSize?: number) {
  const args = ['prog', 'run', 'pinned', pin, 'data_in', inFile];
  if (outFile) args.push('data_out', outFile, 'data_size_out', String(outSize));
  args.push('repeat', String(repeat));
  const r = await bpftool(args, 120_000);
  const parsed = r.code === 0 ? parseRunOutput(r.stdout) : null;
  if (!parsed)
    return { error: `bpftool prog run failed: ${cleanStderr(r.stderr).join(' | ') || r.stdout.trim() || `exit ${r.code}`}` } as const;
  return parsed;
}

async function checkVector(obj: LoadedObject, v: KernelVector, work: string, idx: number): Promise<VectorResult> {
  const base = notRunResult(v);
  const tooShort = packetTooShort(v);
  if (tooShort) return { ...base, reason: tooShort };
  const inFile = join(work, `in-${idx}.bin`);
  const outFile = join(work, `out-${idx}.bin`);
  await fsp.writeFile(inFile, v.packet);
  const prior = Math.max(0, Math.floor(v.repeat ?? 0));
  // The kernel does not restore the packet between repeats, so prior runs are one call and the
  // checked run is a separate call on a fresh copy of the packet.
  if (prior > 0) {
    const warm = await runOnce(obj.progPin, inFile, prior);
    if ('error' in warm) return { ...base, reason: `vector "${v.name}": prior runs failed: ${warm.error}` };
  }
  const run = await runOnce(obj.progPin, inFile, 1, outFile, v.packet.length + OUTPUT_SLACK);
  if ('error' in run) return { ...base, reason: `vector "${v.name}": ${run.error}` };
  const actualVerdict = verdictName(run.retval);
  const out = await fsp.readFile(outFile).catch(() => Buffer.alloc(0));
  const result: VectorResult = { ...base, actualVerdict, actualOutputHex: out.toString('hex'), nsPerPacket: run.durationNs };
  const problems: string[] = [];
  if (actualVerdict !== v.expectVerdict) problems.push(`expected verdict ${v.expectVerdict}, got ${actualVerdict}`);
  if (v.expectOutput) {
    const diff = describeOutputDiff(v.expectOutput, out);
    if (diff) problems.push(diff);
  }
  if (problems.length > 0) return { ...result, reason: `vector "${v.name}": ${problems.join('; ')}` };
  return { ...result, passed: true };
}

/**
 * Times the empty program on the packets the module was timed on, the same number of runs each.
 * A harness that cannot be built or loaded leaves the figures absent: nothing is subtracted then.
 */
async function timeHarness(results: VectorResult[], work: string, timingRepeat: number): Promise<void> {
  const timed = results.map((r, i) => ({ r, i })).filter(({ r }) => r.actualVerdict !== NOT_RUN && r.nsPerPacket > 0);
  if (timed.length === 0) return;
  const object = await harnessObject().catch(() => null);
  if (!object) return;
  await withLoadedObject(object, { program: HARNESS_PROGRAM, type: 'xdp' }, async (h) => {
    if (!h.loaded) return;
    for (const { r, i } of timed) {
      const t = await runOnce(h.object.progPin, join(work, `in-${i}.bin`), timingRepeat);
      if (!('error' in t)) r.harnessNsPerPacket = t.durationNs;
    }
  }).catch(() => undefined);
}

/**
 * Runs test vectors against the real kernel through BPF_PROG_TEST_RUN (`bpftool prog run`).
 * Vectors run in order on one loaded instance, so map state carries from one vector to the next.
 * Timing runs happen after every check so they cannot disturb the state the checks see.
 */
export async function runVectors(objectPath: string, vectors: KernelVector[], opts: RunVectorsOptions = {}): Promise<VectorResult[]> {
  const timingRepeat = Math.max(0, Math.floor(opts.timingRepeat ?? 10_000));
  return withLoadedObject(objectPath, { program: opts.program, type: opts.type }, async (o) => {
    if (!o.loaded) {
      const why = o.verifierLog.join(' | ');
      return vectors.map((v) => ({
        name: v.name,
        passed: false,
        expectedVerdict: v.expectVerdict,
        actualVerdict: NOT_RUN,
        nsPerPacket: 0,
        reason: `vector "${v.name}": the kernel refused the program: ${why}`,
      }));
    }
    await seedMaps(o.object, opts.seed ?? []);
    const work = await fsp.mkdtemp(join(tmpdir(), 'ioplane-vectors-'));
    try {
      const results: VectorResult[] = [];
      for (const [i, v] of vectors.entries()) results.push(await checkVector(o.object, v, work, i));
      if (timingRepeat > 0) {
        for (const [i, r] of results.entries()) {
          if (r.actualVerdict === NOT_RUN) continue;
          const t = await runOnce(o.object.progPin, join(work, `in-${i}.bin`), timingRepeat);
          if (!('error' in t)) r.nsPerPacket = t.durationNs;
        }
        if (opts.harness) await timeHarness(results, work, timingRepeat);
      }
      return results;
    } finally {
      await fsp.rm(work, { recursive: true, force: true });
    }
  });
}
