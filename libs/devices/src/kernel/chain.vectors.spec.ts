import { ownVerdict } from './chain.vectors';

describe("a module's own verdict on the deployed chain", () => {
  it("a pass into a later slot is the module's XDP_PASS whatever the chain returned, and its output bytes are not its own", () => {
    expect(ownVerdict({ packets: 1, passed: 1 }, 'XDP_DROP', true)).toEqual({ verdict: 'XDP_PASS', own: false });
  });

  it("a pass in the last slot is the chain's end: the bytes are the module's own", () => {
    expect(ownVerdict({ packets: 1, passed: 1 }, 'XDP_PASS', false)).toEqual({ verdict: 'XDP_PASS', own: true });
  });

  it('a verdict that ended the chain at the module is what the chain returned', () => {
    expect(ownVerdict({ packets: 1, passed: 0 }, 'XDP_DROP', true)).toEqual({ verdict: 'XDP_DROP', own: true });
    expect(ownVerdict({ packets: 1, passed: 0 }, 'XDP_TX', true)).toEqual({ verdict: 'XDP_TX', own: true });
  });

  it('live packets that agree with the run keep the reading exact; mixed ones leave it unknown, never passed', () => {
    expect(ownVerdict({ packets: 3, passed: 3 }, 'XDP_DROP', true).verdict).toBe('XDP_PASS');
    expect(ownVerdict({ packets: 3, passed: 0 }, 'XDP_DROP', true).verdict).toBe('XDP_DROP');
    expect(ownVerdict({ packets: 3, passed: 1 }, 'XDP_PASS', true)).toMatchObject({
      verdict: 'UNKNOWN',
      problem: expect.stringContaining('unknown'),
    });
  });

  it("a run the slot's row did not count is a problem, not a verdict", () => {
    expect(ownVerdict({ packets: 0, passed: 0 }, 'XDP_PASS', false).problem).toContain('did not count');
  });
});
