import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBpftool } from '../build/clang.toolchain';
import { runProcess } from '../build/process.runner';
import { BPFFS_ROOT, PROBE_OBJECT_BASE64 } from './bpftool.client';
import { withLoadedObject } from './pin.session';

export interface KernelAvailability {
  ok: boolean;
  reason?: string;
}

const BPF_FS_MAGIC = 0xcafe4a11;
const CAP_SYS_ADMIN = 21n;
const CAP_BPF = 39n;
let cached: Promise<KernelAvailability> | undefined;

async function hasBpfCapability(): Promise<boolean> {
  if (process.getuid?.() === 0) return true;
  const status = await fsp.readFile('/proc/self/status', 'utf8').catch(() => '');
  const m = /^CapEff:\s*([0-9a-f]+)/m.exec(status);
  if (!m) return false;
  const caps = BigInt(`0x${m[1]}`);
  return ((caps >> CAP_BPF) & 1n) === 1n || ((caps >> CAP_SYS_ADMIN) & 1n) === 1n;
}

async function isBpffs(): Promise<boolean> {
  const fs = await fsp.statfs(BPFFS_ROOT).catch(() => null);
  return fs?.type === BPF_FS_MAGIC;
}

/**
 * Pins (links, maps that survive an agent restart) need bpffs at /sys/fs/bpf. systemd mounts it on
 * most hosts; containers and minimal machines often lack it, and with the rights to load XDP we
 * have the rights to mount it, as other XDP agents do.
 */
async function mountBpffs(): Promise<boolean> {
  await fsp.mkdir(BPFFS_ROOT, { recursive: true }).catch(() => undefined);
  const r = await runProcess('mount', ['-t', 'bpf', 'bpf', BPFFS_ROOT], { timeoutMs: 10_000 }).catch(() => null);
  return r?.code === 0 && (await isBpffs());
}

async function probe(): Promise<KernelAvailability> {
  // Lets an operator (or a test of the no-kernel path) force the emulated mode on a capable host.
  if (process.env.IOPLANE_DISABLE_KERNEL === '1') return { ok: false, reason: 'disabled by IOPLANE_DISABLE_KERNEL=1' };
  if (process.platform !== 'linux') return { ok: false, reason: `not Linux (${process.platform})` };
  if (!(await hasBpfCapability())) return { ok: false, reason: 'not root and no CAP_BPF/CAP_SYS_ADMIN' };
  if (!findBpftool()) return { ok: false, reason: 'bpftool not installed' };
  if (!(await isBpffs()) && !(await mountBpffs()))
    return { ok: false, reason: `${BPFFS_ROOT} is not a mounted bpffs (and mounting one failed)` };
  const tmp = await fsp.mkdtemp(join(tmpdir(), 'ioplane-probe-'));
  try {
    const obj = join(tmp, 'probe.o');
    await fsp.writeFile(obj, Buffer.from(PROBE_OBJECT_BASE64, 'base64'));
    return await withLoadedObject(obj, { type: 'xdp' }, async (o) =>
      o.loaded ? { ok: true } : { ok: false, reason: `kernel refused a trivial XDP program: ${o.verifierLog.join(' | ')}` },
    );
  } catch (e) {
    return { ok: false, reason: `loading a trivial XDP program failed: ${(e as Error).message}` };
  } finally {
    await fsp.rm(tmp, { recursive: true, force: true });
  }
}

/** Whether real kernel verification and test runs are possible here; probed once per process (honours IOPLANE_DISABLE_KERNEL=1). */
export function kernelAvailable(): Promise<KernelAvailability> {
  cached ??= probe();
  return cached;
}
