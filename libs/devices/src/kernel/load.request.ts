import type { Target } from '@ioplane/domain';
import { DeviceError } from '../device.error';
import type { AttachMode, LoadRequest, XdpHook } from '../device.driver';

const NAME = /^[A-Za-z0-9_-]{1,64}$/;
const MAP_NAME = /^[A-Za-z0-9_]{1,64}$/;
const HOOK_OF: Partial<Record<Target, XdpHook>> = { 'host-xdp-native': 'xdp-native', 'host-xdp-generic': 'xdp-generic' };
const MODE_OF: Record<XdpHook, AttachMode> = { 'xdp-native': 'native', 'xdp-generic': 'generic' };

export interface HookFacts {
  targets: readonly Target[];
  slots: number;
  /**
   * Names the request's port answers to: the netdev the agent attaches to, and the MAAS interface
   * it stands for (the device's interface at that port's position), which is what a plan names.
   */
  interfaceNames: readonly string[];
  /** Mode of the chain attached to the port now; undefined when nothing is attached. */
  runningMode?: AttachMode;
}

/** Refuses, before anything is loaded, a request this hook cannot take; each error names its field. */
export function checkLoadRequest(req: Omit<LoadRequest, 'signal'>, f: HookFacts): void {
  if (!f.targets.includes(req.target))
    throw new DeviceError('unsupported_target', `this device offers ${f.targets.join(', ')}, not ${req.target}`, 'target');
  if (req.modules.length > f.slots) {
    throw new DeviceError('slot_limit', `at most ${f.slots} modules per hook; the chain has ${req.modules.length}`, 'modules');
  }
  if (req.hook !== undefined && req.hook !== HOOK_OF[req.target]) {
    throw new DeviceError(
      'unsupported_target',
      `hook ${req.hook} does not belong to target ${req.target} (expected ${HOOK_OF[req.target] ?? 'none'})`,
      'hook',
    );
  }
  if (req.hook !== undefined && f.runningMode !== undefined && f.runningMode !== MODE_OF[req.hook]) {
    throw new DeviceError(
      'unsupported_target',
      `the port runs ${f.runningMode} XDP; an atomic swap cannot move its chain to ${req.hook} (detach first)`,
      'hook',
    );
  }
  if (req.interface !== undefined && !f.interfaceNames.includes(req.interface)) {
    throw new DeviceError(
      'port_out_of_range',
      `port ${req.port} is interface ${f.interfaceNames.join(' / ')}, not ${req.interface}`,
      'interface',
    );
  }
  for (const [i, m] of req.modules.entries()) {
    if (!NAME.test(m.name)) throw new DeviceError('bad_object', `module name ${m.name} must match ${NAME}`, `modules[${i}].name`);
    const bad = m.persistentMaps.findIndex((n) => !MAP_NAME.test(n));
    if (bad >= 0)
      throw new DeviceError(
        'bad_object',
        `map name ${m.persistentMaps[bad]} must match ${MAP_NAME}`,
        `modules[${i}].persistentMaps[${bad}]`,
      );
  }
}
