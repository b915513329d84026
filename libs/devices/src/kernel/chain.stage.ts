import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { ChainMechanism, ChainModule, ChainState } from '../device.driver';
import { DeviceError } from '../device.error';
import { loadChain } from './chain.loader';
import type { PortPaths } from './port.paths';
import { xdpctl } from './xdpctl.tool';

/** A chain ready in its own bpffs folder, not attached: `dir/root` is what the hook's link swaps to. */
export interface StagedChain {
  dir: string;
  /** The port's previous chain, still pinned, taken as it is: nothing was loaded, and nothing may be removed on failure. */
  reused: boolean;
  ids: { id: number | null; tag: string | null }[];
  rootId: number;
  rootTag: string;
}

/**
 * Stage a port's next chain: the previous chain when it is the same one (a swap back to it needs
 * no load), else every module loaded afresh under a new root. A failed load leaves no folder.
 */
export async function stageChain(s: {
  paths: PortPaths;
  port: number;
  digest: string;
  previous: ChainState | null;
  mechanism: ChainMechanism;
  stateDir: string;
  modules: ChainModule[];
}): Promise<StagedChain> {
  for (const m of s.modules) if (!existsSync(s.paths.objectFile(m.digest))) await fsp.writeFile(s.paths.objectFile(m.digest), m.object);
  const dir = s.paths.chainDir(s.port, s.digest);
  const prev = s.previous;
  if (prev?.chainDigest === s.digest && existsSync(join(dir, 'root'))) {
    return {
      dir,
      reused: true,
      ids: prev.modules.map((m) => ({ id: m.progId, tag: m.tag })),
      rootId: prev.rootProgId!,
      rootTag: prev.rootTag!,
    };
  }
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true });
  try {
    const loaded = await loadChain({
      mechanism: s.mechanism,
      dir,
      hookStatsPin: s.paths.hookStatsPin(s.port),
      objectFile: (d) => s.paths.objectFile(d),
      mapsDir: (name) => join(s.paths.portDir(s.port), 'maps', name),
      stateDir: s.stateDir,
      modules: s.modules,
    });
    return { dir, reused: false, ids: loaded.modules, rootId: loaded.root.id, rootTag: loaded.root.tag };
  } catch (e) {
    await fsp.rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Swap the port's pinned link to `nextRoot` in one BPF_LINK_UPDATE, only if it still runs `running`
 * (compare-and-swap on the old root: its pin, or its program id once the pin is gone).
 * `what` names the swap in the error, which says the running chain was left in place.
 */
export async function swapRoot(
  paths: PortPaths,
  port: number,
  nextRoot: string,
  running: { chainDigest: string | null; progId: number | null },
  what: { swap: string; left: string },
): Promise<void> {
  const pin = running.chainDigest === null ? null : join(paths.chainDir(port, running.chainDigest), 'root');
  const old = pin !== null && existsSync(pin) ? pin : `id:${running.progId}`;
  const r = await xdpctl(['replace', paths.linkPin(port), nextRoot, old]);
  if (!r.ok)
    throw new DeviceError(
      'kernel_failed',
      `${what.swap} failed (${r.failure.error}, errno ${r.failure.errno}); the ${what.left} chain still runs`,
    );
}
