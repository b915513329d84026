import { createHmac } from 'node:crypto';
import { agentToken } from './agent.token';

describe('agentToken (derived per host from one secret)', () => {
  const secret = 'c0ffee'.repeat(10);

  it('is the hex HMAC-SHA256 of agent:<systemId> under the secret', () => {
    const expected = createHmac('sha256', secret).update('agent:abc123').digest('hex');
    expect(agentToken(secret, 'abc123')).toBe(expected);
    expect(agentToken(secret, 'abc123')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('differs per host and per secret, and is stable', () => {
    expect(agentToken(secret, 'abc123')).toBe(agentToken(secret, 'abc123'));
    expect(agentToken(secret, 'abc124')).not.toBe(agentToken(secret, 'abc123'));
    expect(agentToken(`${secret}x`, 'abc123')).not.toBe(agentToken(secret, 'abc123'));
  });

  it('refuses an empty secret or system id', () => {
    expect(() => agentToken('', 'abc123')).toThrow(/secret/);
    expect(() => agentToken(secret, '')).toThrow(/systemId/);
  });
});
