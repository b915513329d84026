/** Where a module can run. The prefix says which device kind executes it. */
export const TARGETS = [
  'host-xdp-native',
  'host-xdp-generic',
  'nic-xdp-offload',
  'nic-flow-offload',
  'dpu-arm-xdp',
  'dpu-flow-offload',
] as const;
export type Target = (typeof TARGETS)[number];

/**
 * Kinds of device: network cards, each with its netdevs. There is no "host CPU" device: host XDP
 * runs on a port's netdev (driver or generic mode), executed by the host kernel for that card.
 */
export type PlacementDeviceKind = 'smartnic' | 'dpu' | 'nic';
export type DeviceKind = PlacementDeviceKind;

/** Whether a firmware's targets are all host XDP (no profile: only generic XDP, also host XDP). */
export function hostXdpOnly(targets: readonly Target[] | null): boolean {
  return targets === null || targets.every((t) => t.startsWith('host-'));
}

/**
 * Whether a card's own driver runs the host XDP of its netdevs whatever firmware it is flashed to:
 * unprofiled, or every flavour of its family host-XDP-only. Otherwise a flash can give it hardware
 * hooks, so its netdevs' host XDP runs in a device of its own (hostXdpDeviceId) from the start.
 */
export function runsOwnHostXdp(
  profileId: string | null,
  profiles: readonly { id: string; flavourOf?: string | null; targets: readonly Target[] }[],
): boolean {
  const self = profileId ? profiles.find((p) => p.id === profileId) : undefined;
  if (!self) return true;
  const base = self.flavourOf ?? self.id;
  return profiles.filter((p) => p.id === base || p.flavourOf === base).every((p) => hostXdpOnly(p.targets));
}

/**
 * The host XDP modes the driver of a card with hardware hooks offers on its netdevs (the targets
 * of its hostXdpDeviceId device): generic always (the kernel's, whatever the driver), native when
 * any flavour of the card's firmware family lists it. The family, not the running flavour: that
 * device is made once when the agent starts and outlives a flash in the same rollout, and the
 * planner already ties a native hop to a flavour that has it.
 */
export function familyHostTargets(
  profileId: string | null,
  profiles: readonly { id: string; flavourOf?: string | null; targets: readonly Target[] }[],
): Target[] {
  const self = profileId ? profiles.find((p) => p.id === profileId) : undefined;
  const base = self ? (self.flavourOf ?? self.id) : null;
  const native = base !== null && profiles.some((p) => (p.id === base || p.flavourOf === base) && p.targets.includes('host-xdp-native'));
  return native ? ['host-xdp-native', 'host-xdp-generic'] : ['host-xdp-generic'];
}

/** The agent's device that runs host XDP (driver and generic mode) on the netdevs of a card with hardware hooks. */
export function hostXdpDeviceId(cardId: string): string {
  return `${cardId}${HOST_XDP_SUFFIX}`;
}
const HOST_XDP_SUFFIX = '~xdp';

/** The card whose netdevs a host-XDP device id runs on (the id itself when it is a card's). */
export function cardOfHostXdpDevice(deviceId: string): string {
  return deviceId.endsWith(HOST_XDP_SUFFIX) ? deviceId.slice(0, -HOST_XDP_SUFFIX.length) : deviceId;
}

/**
 * The hooks a packet entering a machine on one port meets, first to last (datapath.md):
 * the DPU in front of the port (its eSwitch flow rules, then XDP on its Arm uplink), the NIC
 * hardware (tc-flower rules or nfp XDP offload), driver XDP on the port's netdev, generic XDP
 * on the same netdev.
 */
export const HOOKS = ['dpu-flow', 'dpu-xdp', 'nic-flow', 'nic-xdp-offload', 'xdp-native', 'xdp-generic'] as const;
export type Hook = (typeof HOOKS)[number];

/** Position of each hook along a port's path (packet order). */
export const HOOK_POSITION: Record<Hook, number> = {
  'dpu-flow': 0,
  'dpu-xdp': 1,
  'nic-flow': 2,
  'nic-xdp-offload': 3,
  'xdp-native': 4,
  'xdp-generic': 5,
};

/**
 * Hooks that exclude each other on one port: native and generic XDP on one netdev (the kernel
 * refuses the second), and a NIC's tc-flower offload with its XDP offload (one offloaded program
 * per port, XDP or tc). Offload and native coexist.
 */
export const EXCLUSIVE_HOOKS: ReadonlyArray<readonly [Hook, Hook]> = [
  ['xdp-native', 'xdp-generic'],
  ['nic-flow', 'nic-xdp-offload'],
];

/**
 * The hook a target runs at on a device. Flow rules on a DPU (BlueField eSwitch, Pensando P4
 * pipeline) sit in front of its Arm cores, so a DPU's flow offload is `dpu-flow` whatever the
 * profile calls it.
 */
export function hookOf(kind: DeviceKind, target: Target): Hook {
  switch (target) {
    case 'dpu-flow-offload':
      return 'dpu-flow';
    case 'dpu-arm-xdp':
      return 'dpu-xdp';
    case 'nic-flow-offload':
      return kind === 'dpu' ? 'dpu-flow' : 'nic-flow';
    case 'nic-xdp-offload':
      return 'nic-xdp-offload';
    case 'host-xdp-native':
      return 'xdp-native';
    case 'host-xdp-generic':
      return 'xdp-generic';
  }
}

/**
 * Ingress order of targets: DPU first, then the NIC hardware, then the host's netdev
 * (datapath.md). A target's exact place on a port is its hook (hookOf, HOOK_POSITION).
 */
export const STAGE_ORDER: Record<Target, number> = {
  'dpu-flow-offload': 0,
  'dpu-arm-xdp': 1,
  'nic-flow-offload': 2,
  'nic-xdp-offload': 3,
  'host-xdp-native': 4,
  'host-xdp-generic': 5,
};

export const XDP_ACTIONS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'] as const;
export type XdpAction = (typeof XDP_ACTIONS)[number];
