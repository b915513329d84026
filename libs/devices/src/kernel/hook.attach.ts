import { existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { Target } from '@ioplane/domain';
import { DeviceError } from '../device.error';
import type { AttachMode, ChainState, PortInterface, XdpHook } from '../device.driver';
import { pinnedProg } from './bpftool.run';
import { netnsPath } from './netns.setup';
import { xdpctl, type XdpctlFailure } from './xdpctl.tool';

/**
 * First attach of a port's hook as a pinned bpf_link: the hook the plan named, or native where
 * the driver supports it, else generic. Later chain changes swap the link's program instead.
 */
export async function attachRoot(
  iface: PortInterface,
  rootPin: string,
  linkPin: string,
  target: Target,
  hook?: XdpHook,
): Promise<AttachMode> {
  const native: ['drv', AttachMode] = ['drv', 'native'];
  const generic: ['skb', AttachMode] = ['skb', 'generic'];
  const tries = hook === 'xdp-native' ? [native] : hook === 'xdp-generic' || target !== 'host-xdp-native' ? [generic] : [native, generic];
  let last: XdpctlFailure | null = null;
  for (const [flag, mode] of tries) {
    const r = await xdpctl(['attach', iface.netns ? netnsPath(iface.netns) : '/proc/self/ns/net', iface.name, flag, rootPin, linkPin]);
    if (r.ok) return mode;
    last = r.failure;
    if (r.failure.error === 'busy') {
      throw new DeviceError(
        'foreign_program',
        `${iface.name} already runs an XDP program ioplane did not load; it is left in place`,
        'port',
      );
    }
  }
  throw new DeviceError('kernel_failed', `attaching to ${iface.name} failed: ${last?.error} (errno ${last?.errno})`);
}

/**
 * The chain whose root the hook's link runs, found among the port's pinned chains (`chainsDir`)
 * when the saved state does not name it (an agent that died between a swap and its state write).
 */
export async function runningChain(
  chainsDir: string,
  running: number,
  saved: { current?: ChainState | null; previous?: ChainState | null },
): Promise<ChainState | null> {
  const dirs = await fsp.readdir(chainsDir).catch(() => [] as string[]);
  for (const d of dirs) {
    const info = await pinnedProg(join(chainsDir, d, 'root'));
    if (info?.id !== running) continue;
    const known = [saved.current, saved.previous].find((c) => c?.chainDigest.startsWith(d));
    if (known) return { ...known, rootProgId: running };
    // A tail-call chain pins its program array beside its root.
    const mechanism = existsSync(join(chainsDir, d, 'progs')) ? 'tail-call' : undefined;
    return {
      chainDigest: d,
      target: 'host-xdp-native',
      mode: 'native',
      mechanism,
      modules: [],
      rootProgId: running,
      rootTag: info.tag,
      loadedAt: new Date(0).toISOString(),
      committed: false,
    };
  }
  return null;
}
