import { EnvFileError, parseEnvFile } from './agent.env';

describe('parseEnvFile', () => {
  it('reads the agent.env the package ships and cloud-init writes', () => {
    const text = [
      '# ioplane agent settings',
      '; also a comment',
      '',
      'AGENT_ID=abc123',
      'AGENT_TOKEN="tok en"',
      "AGENT_PUBLIC_KEY='/etc/ioplane/controller.pub'",
      'export AGENT_HOST=0.0.0.0',
      '  AGENT_PORT = 9440  ',
      'EMPTY=',
      'WITH_EQUALS=a=b',
    ].join('\n');
    expect(parseEnvFile(text)).toEqual({
      AGENT_ID: 'abc123',
      AGENT_TOKEN: 'tok en',
      AGENT_PUBLIC_KEY: '/etc/ioplane/controller.pub',
      AGENT_HOST: '0.0.0.0',
      AGENT_PORT: '9440',
      EMPTY: '',
      WITH_EQUALS: 'a=b',
    });
  });

  it('names the file, line and reason of a line it cannot read', () => {
    const err = (() => {
      try {
        parseEnvFile('A=1\nnot a setting\n', '/etc/ioplane/agent.env');
      } catch (e) {
        return e as EnvFileError;
      }
      throw new Error('expected EnvFileError');
    })();
    expect(err).toBeInstanceOf(EnvFileError);
    expect(err.code).toBe('invalid_env_file');
    expect(err.message).toBe('/etc/ioplane/agent.env:2: expected KEY=value');
    expect(() => parseEnvFile('1BAD=x')).toThrow(/"1BAD" is not a variable name/);
    expect(() => parseEnvFile('A="open')).toThrow(/A: unterminated quote/);
  });
});
