import type { PlacementModule } from '@ioplane/placement';

/**
 * A module as the planner hands it to the solver, at `chainPosition` of the chain: 100
 * instructions, 50 ns a packet on the host (measured), no maps; the host kernel accepts it on
 * native and generic XDP, an Intel X710 on native XDP. `pps` of 256-byte packets, `latencyBudgetUs`.
 */
export function x710Module(name: string, chainPosition: number, o: { pps: number; latencyBudgetUs: number }): PlacementModule {
  return {
    name,
    version: '1',
    chainPosition,
    traffic: { pps: o.pps, meanPacketBytes: 256 },
    latencyBudgetUs: o.latencyBudgetUs,
    prefer: 'auto',
    hostNsPerPacket: 50,
    costEstimated: false,
    instructions: 100,
    mapMemoryBytes: 0,
    verdicts: {
      'host-kernel': { acceptedTargets: ['host-xdp-native', 'host-xdp-generic'], reasons: [] },
      'intel-x710-9.20': { acceptedTargets: ['host-xdp-native'], reasons: [] },
    },
  };
}
