import { usageOf, hostExtraNs, WIRE_OVERHEAD_BYTES } from './cost.model';
import type { DeviceFlavour, PlacementModule } from './placement.model';

const acl = {
  name: 'acl-firewall',
  instructions: 400,
  mapMemoryBytes: 1024,
  hostNsPerPacket: 40,
  flowRules: 100,
  prefer: 'auto',
} as unknown as PlacementModule;
// A BlueField-2 as its profile states it: 48 Mpps of Arm XDP, 200 Gb/s on the wire, 8 Arm cores.
const dpu = {
  profileId: 'nvidia-bluefield-2-24.35',
  throughput: {
    basePps: 48_000_000,
    nsPerInsn: 1.2,
    latencyUs: 10,
    lineRateGbps: 200,
    armCores: 8,
    armSlowdown: 4,
    rxNsPerPacket: 28,
    skbNsPerPacket: 80,
  },
} as unknown as DeviceFlavour;

describe('cost model: where each figure comes from', () => {
  it('flow offload is bounded by the line rate (bits on the wire), not the Arm XDP rate', () => {
    // 60 Mpps of 64-byte frames is 40 Gb/s on the wire: a fifth of 200 Gb/s, though above basePps.
    const u = usageOf(acl, { pps: 60_000_000, meanPacketBytes: 64 }, dpu, 'dpu-flow-offload');
    expect(u.throughput).toBeCloseTo((60e6 * (64 + WIRE_OVERHEAD_BYTES) * 8) / 200e9, 9);
    expect(u.throughput).toBeLessThan(1);
    expect({ armCores: u.armCores, hostCores: u.hostCores, flowRules: u.flowRules }).toEqual({ armCores: 0, hostCores: 0, flowRules: 100 });
  });

  it('Arm XDP costs Arm cores: the acl measured per packet times the profile slowdown', () => {
    const u = usageOf(acl, { pps: 1_000_000, meanPacketBytes: 512 }, dpu, 'dpu-arm-xdp');
    expect(u.armCores).toBeCloseTo((1e6 * 40 * 4) / 1e9, 9);
    expect(u.arm).toBeCloseTo(u.armCores / 8, 9);
  });

  it('host hooks add the driver receive cost, and generic XDP the skb cost on top (not a multiple of native)', () => {
    expect(hostExtraNs(dpu, 'host-xdp-native', 0.5, true)).toBe(28);
    expect(hostExtraNs(dpu, 'host-xdp-generic', 0.5, true)).toBe(28 + 80);
    // Not the last acl: it pays only for the packets it stops (the rest pay at the chain's end).
    expect(hostExtraNs(dpu, 'host-xdp-native', 0.75, false)).toBe(7);
    expect(hostExtraNs(dpu, 'nic-xdp-offload', 0.5, true)).toBe(0);
    const native = usageOf(acl, { pps: 1_000_000, meanPacketBytes: 512 }, dpu, 'host-xdp-native', undefined, 28);
    expect(native.hostCores).toBeCloseTo((1e6 * (40 + 28)) / 1e9, 9);
  });
});
