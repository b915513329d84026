import { createHash } from 'node:crypto';
import { existsSync, promises as fsp, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { loadToolchain, oncePerKey, readElf, runProcess } from '@ioplane/compiler';
import { DeviceError } from '../device.error';

/** The epilogue header every chained module is built with; the root shares its maps and layout. */
export const CHAIN_HEADER = resolve(__dirname, '..', '..', '..', '..', 'modules', 'include', 'iop_chain.h');

/**
 * Modules per hook with tail calls: IOP_CHAIN_SLOTS in iop_chain.h. The kernel stops a packet
 * after 33 tail calls (MAX_TAIL_CALL_CNT); the root spends one entering slot 0 and each module one
 * entering the next, so 32 modules reach the last slot.
 */
export const TAIL_CALL_SLOTS = 32;
/** Row of the hook counter map the root writes (packets that entered the hook). */
export const HOOK_ROW = TAIL_CALL_SLOTS;
/** Program a module defines with IOP_CHAIN_ENTRY(). */
export const CHAIN_ENTRY = 'iop_chain_entry';

export const ROOT_SOURCE = `#include "iop_chain.h"
/* Counts the packet for the hook, then enters slot 0; the modules carry it from there. */
SEC("xdp") int iop_chain_root(struct xdp_md *ctx)
{
	__u32 row = IOP_CHAIN_HOOK_ROW;
	struct iop_chain_stat *s = bpf_map_lookup_elem(&iop_chain_stats, &row);

	if (s) {
		s->packets++;
		s->bytes += ctx->data_end - ctx->data;
		s->stamp = bpf_ktime_get_ns();
	}
	bpf_tail_call(ctx, &iop_chain_progs, 0);
	s = bpf_map_lookup_elem(&iop_chain_stats, &row);
	if (s) {
		s->missed++;
		s->stamp = 0; /* nothing took the packet: it left the chain here */
	}
	return XDP_PASS;
}
char _license[] SEC("license") = "GPL";
`;

/** Whether a module object defines the chain entry (was built with IOP_CHAIN_ENTRY). */
export function hasChainEntry(object: Buffer): boolean {
  try {
    return readElf(object).symbols.some((s) => s.type === 'FUNC' && s.name === CHAIN_ENTRY);
  } catch {
    // Not an ELF we can read: the kernel load reports what is wrong with it.
    return false;
  }
}

async function build(dir: string): Promise<string> {
  const header = readFileSync(CHAIN_HEADER);
  const key = createHash('sha256').update(header).update(ROOT_SOURCE).digest('hex').slice(0, 16);
  const out = join(dir, `chain-root-${key}.o`);
  if (existsSync(out)) return out;
  const work = join(dir, `chain-root-${key}-${process.pid}`);
  await fsp.mkdir(work, { recursive: true });
  try {
    await fsp.writeFile(join(work, 'iop_chain.h'), header);
    await fsp.writeFile(join(work, 'root.c'), ROOT_SOURCE);
    const tc = await loadToolchain('clang');
    const r = await runProcess(tc.clang, [...tc.flags, '-c', join(work, 'root.c'), '-o', join(work, 'root.o')], {
      timeoutMs: 30_000,
      env: { PATH: '/usr/bin:/bin' },
    });
    if (r.code !== 0)
      throw new DeviceError('kernel_failed', `building the chain root failed: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
    await fsp.rename(join(work, 'root.o'), out);
    return out;
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}

const buildOnce = oncePerKey(build);

/** Compiles the root program once per header version into `dir`; the object's path. */
export function buildChainRoot(dir: string): Promise<string> {
  return buildOnce(dir);
}
