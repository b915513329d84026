import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadToolchain, runProcess } from '@ioplane/compiler';
import { buildChainRoot, CHAIN_HEADER } from './chain.root';
import { buildDispatcher } from './dispatcher.source';
import { xdpctl } from './xdpctl.tool';
import type { ChainSupport } from '../device.driver';

const PASS = `#include "iop_chain.h"
static __always_inline int verdict(struct xdp_md *ctx) { return XDP_PASS; }
SEC("xdp") int pass(struct xdp_md *ctx) { return verdict(ctx); }
IOP_CHAIN_ENTRY(verdict)
char _license[] SEC("license") = "GPL";
`;

let probed: Promise<ChainSupport> | undefined;

/**
 * How a hook holds several modules here: `freplace` (a dispatcher whose slots the modules
 * replace; needs BPF_PROG_TYPE_EXT), `tail-call` (a root and a PROG_ARRAY; modules carry the
 * epilogue of modules/include/iop_chain.h), or `none` (one module per hook).
 * What this kernel lets a hook chain, probed once per process by loading (never attaching) a
 * two-module chain each way. The freplace dispatcher is preferred where it works, since it also
 * chains modules built without the epilogue; many kernels and sandboxes refuse EXT programs
 * (EPERM), and there tail calls, which every XDP kernel has, carry the chain.
 */
export function chainMechanism(stateDir: string, bpffsDir: string): Promise<ChainSupport> {
  probed ??= probe(stateDir, bpffsDir).catch(() => 'none' as const);
  return probed;
}

async function passObject(stateDir: string): Promise<string | null> {
  const dir = join(stateDir, 'probe');
  await fsp.mkdir(dir, { recursive: true });
  const obj = join(dir, 'pass-chain.o');
  if (existsSync(obj)) return obj;
  await fsp.writeFile(join(dir, 'iop_chain.h'), readFileSync(CHAIN_HEADER));
  await fsp.writeFile(join(dir, 'pass.c'), PASS);
  const tc = await loadToolchain('clang');
  const r = await runProcess(tc.clang, [...tc.flags, '-c', join(dir, 'pass.c'), '-o', `${obj}.tmp`], {
    timeoutMs: 30_000,
    env: { PATH: '/usr/bin:/bin' },
  });
  if (r.code !== 0) return null;
  await fsp.rename(`${obj}.tmp`, obj);
  return obj;
}

async function probe(stateDir: string, bpffsDir: string): Promise<ChainSupport> {
  const obj = await passObject(stateDir);
  if (!obj) return 'none';
  const pins = join(bpffsDir, `chain-probe-${process.pid}`);
  await fsp.rm(pins, { recursive: true, force: true });
  await fsp.mkdir(join(pins, 'f'), { recursive: true });
  await fsp.mkdir(join(pins, 't'), { recursive: true });
  try {
    const f = await xdpctl([
      'load-chain',
      join(pins, 'f'),
      await buildDispatcher(join(stateDir, 'dispatchers'), 2),
      obj,
      'pass',
      '-',
      obj,
      'pass',
      '-',
    ]);
    if (f.ok) return 'freplace';
    const root = await buildChainRoot(join(stateDir, 'roots'));
    const t = await xdpctl(['load-tailchain', join(pins, 't'), root, join(pins, 'stats'), obj, 'pass', '-', obj, 'pass', '-']);
    return t.ok ? 'tail-call' : 'none';
  } finally {
    await fsp.rm(pins, { recursive: true, force: true });
  }
}
