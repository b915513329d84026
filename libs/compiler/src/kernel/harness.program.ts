import { createHash } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadToolchain } from '../build/clang.toolchain';
import { runProcess } from '../build/process.runner';
import { oncePerKey } from '../build/build.once';
import { KernelError } from './bpftool.client';

/** The program whose run time is the measurement harness's own cost: it touches nothing and passes. */
export const HARNESS_PROGRAM = 'iop_harness';
const HARNESS_SOURCE = `#include <linux/bpf.h>
__attribute__((section("xdp"), used)) int ${HARNESS_PROGRAM}(struct xdp_md *ctx) { return XDP_PASS; }
char _license[] __attribute__((section("license"), used)) = "GPL";
`;

async function build(dir: string): Promise<string> {
  const tc = await loadToolchain('clang');
  // Keyed by the compiler too: another clang is another object, and so another baseline.
  const key = createHash('sha256').update(tc.version).update(HARNESS_SOURCE).digest('hex').slice(0, 16);
  const out = join(dir, `harness-${key}.o`);
  if (existsSync(out)) return out;
  await fsp.mkdir(dir, { recursive: true });
  const src = join(dir, `harness-${key}-${process.pid}.c`);
  const tmp = join(dir, `harness-${key}-${process.pid}.o`);
  try {
    await fsp.writeFile(src, HARNESS_SOURCE);
    const r = await runProcess(tc.clang, [...tc.flags, '-c', src, '-o', tmp], { timeoutMs: 30_000, env: { PATH: '/usr/bin:/bin' } });
    if (r.code !== 0)
      throw new KernelError(
        'harness_build_failed',
        `building the empty harness program failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
        'harness',
      );
    await fsp.rename(tmp, out);
    return out;
  } finally {
    await fsp.rm(src, { force: true });
    await fsp.rm(tmp, { force: true });
  }
}

const buildOnce = oncePerKey(build);

/** Compiles the empty XDP program once per compiler into `dir` (default: a folder under the temp dir); its object's path. */
export function harnessObject(dir = join(tmpdir(), 'ioplane-harness')): Promise<string> {
  return buildOnce(dir);
}
