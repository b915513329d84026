import { estimateNsPerPacket } from './cost.estimate';

describe('estimateNsPerPacket', () => {
  it('is the XDP base cost plus a per-instruction cost, flagged as an estimate', () => {
    expect(estimateNsPerPacket(0)).toEqual({ ns: 13.3, estimated: true });
    expect(estimateNsPerPacket(100)).toEqual({ ns: 48.3, estimated: true });
    expect(estimateNsPerPacket(-5).ns).toBe(13.3);
  });
});
