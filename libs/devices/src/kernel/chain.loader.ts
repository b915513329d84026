import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { extractVerifierErrors } from '@ioplane/compiler';
import { DeviceError } from '../device.error';
import type { ChainMechanism, ChainModule, ChainSupport } from '../device.driver';
import { buildChainRoot, hasChainEntry, TAIL_CALL_SLOTS } from './chain.root';
import { buildDispatcher } from './dispatcher.source';
import { xdpctl, type XdpctlFailure } from './xdpctl.tool';

/** Dispatcher slots (libxdp's bound); the tail-call bound is TAIL_CALL_SLOTS. */
export const FREPLACE_SLOTS = 10;

/** Modules one hook holds with what the kernel supports. */
export function slotsPerHook(support: ChainSupport): number {
  return support === 'tail-call' ? TAIL_CALL_SLOTS : support === 'freplace' ? FREPLACE_SLOTS : 1;
}

/**
 * How a chain runs on a hook. One module built with the epilogue runs under a root too, so its
 * hook counts packets the same way a longer chain does; one module without it is the root itself.
 * Several modules need a mechanism, and tail calls need every module to carry the epilogue.
 */
export function chainMechanismFor(support: ChainSupport, modules: Pick<ChainModule, 'name' | 'object'>[]): ChainMechanism {
  const missing = modules.findIndex((m) => !hasChainEntry(m.object));
  if (modules.length === 1) return support === 'tail-call' && missing < 0 ? 'tail-call' : 'single';
  if (support === 'freplace') return 'freplace';
  if (support === 'none') {
    return throwUnsupported(
      'this kernel can chain neither by freplace (BPF_PROG_TYPE_EXT refused) nor by tail calls; load one module per port',
      'modules',
    );
  }
  if (missing >= 0) {
    return throwUnsupported(
      `module ${modules[missing].name} was built without the chain epilogue (IOP_CHAIN_ENTRY of modules/include/iop_chain.h), so on this kernel it can only run alone on a hook`,
      `modules[${missing}]`,
    );
  }
  return 'tail-call';
}

function throwUnsupported(message: string, field: string): never {
  throw new DeviceError('chain_unsupported', message, field);
}

/** A refusal of iop-xdpctl as a DeviceError naming the module it is about. */
export function chainRefusal(f: XdpctlFailure, modules: Pick<ChainModule, 'name'>[]): DeviceError {
  const m = /module (\d+)[ :(]/.exec(`${f.detail}\n${f.stderr}`);
  const i = m ? Number(m[1]) : 0;
  const name = modules[i]?.name;
  if (f.error === 'map_reuse')
    return new DeviceError('map_incompatible', `a map cannot be reused: ${f.detail}`, `modules[${i}].persistentMaps`);
  if (f.error === 'program_not_found')
    return new DeviceError('kernel_refused', `no program ${f.detail} in module ${name}`, `modules[${i}].program`);
  if (f.error === 'no_chain_entry') {
    return new DeviceError(
      'chain_unsupported',
      `module ${name} has no iop_chain_entry program (build it with IOP_CHAIN_ENTRY of modules/include/iop_chain.h)`,
      `modules[${i}]`,
    );
  }
  if (f.error === 'prog_array') {
    return new DeviceError(
      'kernel_refused',
      `the chain's program array refused module ${name} (errno ${f.errno}): every module of a hook must be a plain XDP program without xdp.frags`,
      `modules[${i}]`,
    );
  }
  if (modules.length > 1 && f.errno === 1 && (f.error === 'load_module' || f.error === 'freplace')) {
    return new DeviceError('chain_unsupported', 'this kernel refuses BPF_PROG_TYPE_EXT (freplace), which the dispatcher needs', 'modules');
  }
  if (f.error === 'verifier' || f.error === 'load_module') {
    const log = extractVerifierErrors(f.stderr).filter((l) => !/^module \d+ \(/.test(l));
    return new DeviceError('kernel_refused', `the kernel refused module ${name}: ${log.join(' | ')}`, `modules[${i}]`, log);
  }
  return new DeviceError(
    'kernel_failed',
    `iop-xdpctl ${f.error} ${f.detail} (errno ${f.errno}): ${f.stderr.trim().split('\n').slice(-2).join(' | ')}`,
  );
}

export interface ChainLoadInput {
  mechanism: ChainMechanism;
  /** Fresh bpffs folder of this chain: root, program array, module programs and maps. */
  dir: string;
  /** The hook's counter map (tail calls): created by the first chain, shared by every later one. */
  hookStatsPin: string;
  /** Object file of each module, by digest. */
  objectFile: (digest: string) => string;
  /** Folder of a module's persistent maps on this port. */
  mapsDir: (module: string) => string;
  stateDir: string;
  modules: ChainModule[];
}

export interface LoadedChain {
  root: { id: number; tag: string };
  modules: { id: number; tag: string }[];
}

/**
 * Loads a whole chain without attaching it: for tail calls, a new root and a new PROG_ARRAY
 * whose every slot is filled before anything can run it. The caller swaps the hook's link to
 * `dir/root` afterwards, so no packet ever meets a half-built chain.
 */
export async function loadChain(c: ChainLoadInput): Promise<LoadedChain> {
  const args: string[] =
    c.mechanism === 'tail-call'
      ? ['load-tailchain', c.dir, await buildChainRoot(join(c.stateDir, 'roots')), c.hookStatsPin]
      : ['load-chain', c.dir, c.mechanism === 'freplace' ? await buildDispatcher(join(c.stateDir, 'dispatchers'), c.modules.length) : '-'];
  for (const m of c.modules) {
    if (m.persistentMaps.length) await fsp.mkdir(c.mapsDir(m.name), { recursive: true });
    const persistent = m.persistentMaps.map((n) => `${n}=${join(c.mapsDir(m.name), n)}`).join(',');
    args.push(c.objectFile(m.digest), m.program, persistent || '-');
  }
  const r = await xdpctl<LoadedChain>(args);
  if (!r.ok) throw chainRefusal(r.failure, c.modules);
  return r.value;
}
