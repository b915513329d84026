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

export type DeviceKind = 'host-cpu' | 'smartnic' | 'dpu' | 'nic';

/** Ingress order: a packet crosses the NIC, then the DPU, then the host, never back. */
export const STAGE_ORDER: Record<Target, number> = {
  'nic-flow-offload': 0,
  'nic-xdp-offload': 0,
  'dpu-flow-offload': 1,
  'dpu-arm-xdp': 1,
  'host-xdp-native': 2,
  'host-xdp-generic': 2,
};

export const XDP_ACTIONS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'] as const;
export type XdpAction = (typeof XDP_ACTIONS)[number];
