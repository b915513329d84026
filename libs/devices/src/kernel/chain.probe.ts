import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { loadToolchain, runProcess } from '@ioplane/compiler';
import { buildDispatcher } from './dispatcher.source';
import { xdpctl } from './xdpctl.tool';

const PASS = `#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
SEC("xdp") int pass(struct xdp_md *ctx) { return XDP_PASS; }
char _license[] SEC("license") = "GPL";
`;

let probed: Promise<boolean> | undefined;

/**
 * Whether this kernel lets a dispatcher chain several modules on one hook (freplace, which needs
 * BPF trampolines). Some kernels refuse it; there a port holds one module and the agent says so
 * in its inventory, so placement never plans a chain the host cannot run. Probed once per process.
 */
export function chainsSupported(stateDir: string, bpffsDir: string): Promise<boolean> {
  probed ??= probe(stateDir, bpffsDir).catch(() => false);
  return probed;
}

async function probe(stateDir: string, bpffsDir: string): Promise<boolean> {
  const dir = join(stateDir, 'probe');
  await fsp.mkdir(dir, { recursive: true });
  const obj = join(dir, 'pass.o');
  if (!existsSync(obj)) {
    await fsp.writeFile(join(dir, 'pass.c'), PASS);
    const tc = await loadToolchain('clang');
    const r = await runProcess(tc.clang, [...tc.flags, '-c', join(dir, 'pass.c'), '-o', obj], { timeoutMs: 30_000, env: { PATH: '/usr/bin:/bin' } });
    if (r.code !== 0) return false;
  }
  const pins = join(bpffsDir, `chain-probe-${process.pid}`);
  await fsp.rm(pins, { recursive: true, force: true });
  await fsp.mkdir(pins, { recursive: true });
  try {
    const r = await xdpctl(['load-chain', pins, await buildDispatcher(join(stateDir, 'dispatchers'), 2), obj, 'pass', '-', obj, 'pass', '-']);
    return r.ok;
  } finally {
    await fsp.rm(pins, { recursive: true, force: true });
  }
}
