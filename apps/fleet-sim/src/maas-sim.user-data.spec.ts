import { agentUserData } from '@ioplane/planning';
import { agentFromUserData } from './maas-sim.user-data';

const PEM = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAabc=\n-----END PUBLIC KEY-----\n';
const good = (over: Partial<Parameters<typeof agentUserData>[0]> = {}) =>
  agentUserData({
    systemId: 'abc123',
    token: 'tok',
    publicKeyPem: PEM,
    agentPort: 9440,
    source: { packageUrl: 'http://ctl/v1/agent-package' },
    ...over,
  });

describe('agentFromUserData', () => {
  it("reads the settings the controller's cloud-init writes, from either package source", () => {
    expect(agentFromUserData(good(), 'abc123')).toEqual({ ok: true, settings: { token: 'tok', publicKeyPem: PEM, port: 9440 } });
    expect(agentFromUserData(good({ source: { aptSource: 'deb http://x stable main' } }), 'abc123').ok).toBe(true);
  });

  it('runs no agent from user data that would not install or configure it, and says why', () => {
    expect(agentFromUserData(null, 'abc123')).toEqual({ ok: false, reason: 'no user_data: nothing installs the agent' });
    expect(agentFromUserData(good(), 'other')).toMatchObject({
      ok: false,
      reason: expect.stringContaining("not this machine's system_id other"),
    });
    expect(agentFromUserData(good().replace('#cloud-config', '#!/bin/sh'), 'abc123')).toMatchObject({
      ok: false,
      reason: 'user_data is not #cloud-config',
    });
    expect(agentFromUserData(good().replace(/AGENT_TOKEN=tok\n/, ''), 'abc123')).toMatchObject({
      ok: false,
      reason: 'AGENT_TOKEN is unset',
    });
    expect(agentFromUserData(good().replace('/etc/ioplane/agent.env', '/etc/other.env'), 'abc123')).toMatchObject({
      ok: false,
      reason: 'write_files has no /etc/ioplane/agent.env',
    });
    expect(agentFromUserData(good().replace('enable', 'disable'), 'abc123')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('never enables'),
    });
    expect(agentFromUserData(good().replace(/apt-get install[^\n]*/, 'true'), 'abc123')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('nothing installs'),
    });
  });
});
