import { parse } from 'yaml';
import { agentUserData } from './agent.user-data';

const PEM = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAabc=\n-----END PUBLIC KEY-----\n';

describe('agentUserData', () => {
  it('writes the settings root-only and the key, installs the package from the URL and enables the unit', () => {
    const text = agentUserData({
      systemId: 'abc123',
      token: 't0k3n',
      publicKeyPem: PEM,
      agentPort: 9440,
      source: { packageUrl: 'http://ctl:8080/v1/agent-package' },
    });
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    const doc = parse(text);
    const env = doc.write_files.find((f: { path: string }) => f.path === '/etc/ioplane/agent.env');
    expect(env.permissions).toBe('0600');
    expect(env.content).toContain(
      'AGENT_ID=abc123\nAGENT_TOKEN=t0k3n\nAGENT_PUBLIC_KEY=/etc/ioplane/controller.pub\nAGENT_HOST=0.0.0.0\nAGENT_PORT=9440\n',
    );
    expect(doc.write_files.find((f: { path: string }) => f.path === '/etc/ioplane/controller.pub').content).toBe(PEM);
    expect(doc.runcmd[0]).toEqual([
      'sh',
      '-c',
      expect.stringContaining('apt-get install -y -o Dpkg::Options::=--force-confold /run/ioplane-agent.deb'),
      'install-ioplane-agent',
      'http://ctl:8080/v1/agent-package',
    ]);
    expect(doc.runcmd[1]).toEqual(['systemctl', 'enable', '--now', 'ioplane-agent.service']);
  });

  it('installs from an apt source the operator names', () => {
    const doc = parse(
      agentUserData({
        systemId: 'abc123',
        token: 't',
        publicKeyPem: PEM,
        agentPort: 9440,
        source: { aptSource: 'deb [trusted=yes] http://apt.example.org/ioplane stable main' },
      }),
    );
    expect(doc.apt.sources.ioplane.source).toBe('deb [trusted=yes] http://apt.example.org/ioplane stable main');
    expect(doc.packages).toEqual(['ioplane-agent']);
    expect(doc.runcmd).toEqual([['systemctl', 'enable', '--now', 'ioplane-agent.service']]);
  });
});
