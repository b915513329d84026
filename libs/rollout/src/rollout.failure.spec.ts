import { failureCode, RolloutFailure } from './rollout.failure';

describe('failureCode', () => {
  it("keeps a RolloutFailure's own code in any state", () => {
    expect(failureCode(new RolloutFailure('health', 'flash of x failed'), 'flashing')).toBe('health');
  });

  it("maps the agent client's codes before the step", () => {
    expect(failureCode(Object.assign(new Error('x'), { code: 'agent_timeout' }), 'loading')).toBe('agent-timeout');
    expect(failureCode(Object.assign(new Error('x'), { code: 'digest_mismatch' }), 'loading')).toBe('signature');
  });

  it('takes a refused connection, on the error or its cause, as an unreachable agent', () => {
    expect(
      failureCode(
        Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) }),
        'loading',
      ),
    ).toBe('agent-unreachable');
    expect(failureCode(Object.assign(new Error('x'), { code: 'EHOSTUNREACH' }), 'verifying')).toBe('agent-unreachable');
  });

  it("gives an agent's refusal the code of the step it refused, and an error without a code internal", () => {
    expect(failureCode(Object.assign(new Error('verify'), { code: 'device_busy' }), 'flashing')).toBe('flash');
    expect(failureCode(Object.assign(new Error('flash'), { code: 'device_busy' }), 'verifying')).toBe('health');
    expect(failureCode(new TypeError('cannot read properties of undefined'), 'loading')).toBe('internal');
  });
});
