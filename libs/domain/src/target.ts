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
 * Kinds of device a placement can use. `host-cpu` is not one of them: host XDP always runs on a
 * port's netdev (native or generic mode), never on "the CPU". The inventory still lists a
 * `host-cpu` entry because today's agent runs generic XDP through it (see HostExecutorKind);
 * the planner never places on it and no plan names it.
 */
export type PlacementDeviceKind = 'smartnic' | 'dpu' | 'nic';
/** The agent's legacy executor of generic XDP (removed once the agent attaches per interface). */
export type HostExecutorKind = 'host-cpu';
export type DeviceKind = PlacementDeviceKind | HostExecutorKind;

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
    case 'dpu-flow-offload': return 'dpu-flow';
    case 'dpu-arm-xdp': return 'dpu-xdp';
    case 'nic-flow-offload': return kind === 'dpu' ? 'dpu-flow' : 'nic-flow';
    case 'nic-xdp-offload': return 'nic-xdp-offload';
    case 'host-xdp-native': return 'xdp-native';
    case 'host-xdp-generic': return 'xdp-generic';
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
