import { ConfigError, loadConfig } from './config.loader';

describe('loadConfig', () => {
  it('applies defaults on an empty environment', () => {
    const c = loadConfig({});
    expect(c.API_PORT).toBe(8080);
    expect(c.REDIS_URL).toBeUndefined();
    expect(c.IOPLANE_PREFIX).toBe('ioplane');
    expect(c.DRY_RUN_DEADLINE_MS).toBe(120_000);
    expect(loadConfig({ DRY_RUN_DEADLINE_MS: '1500' }).DRY_RUN_DEADLINE_MS).toBe(1500);
  });

  it.each([
    ['API_PORT', 'eighty', 'must be a number'],
    ['API_PORT', '70000', 'must be 0..65535'],
    ['REDIS_URL', 'http://x', 'must start with redis://'],
    ['MAAS_API_KEY', 'only:two', 'consumer_key:token_key:token_secret'],
    ['LOG_LEVEL', 'loud', ''],
    ['FLEET_SYNC_INTERVAL_MS', '5', 'at least 100'],
    ['API_REFUSED_LIMIT', '0', 'at least 1'],
    ['DRY_RUN_DEADLINE_MS', '50', 'at least 100'],
  ])('rejects %s=%s naming the variable', (name, value, reason) => {
    const run = () => loadConfig({ [name]: value });
    expect(run).toThrow(ConfigError);
    try {
      run();
    } catch (e) {
      expect((e as ConfigError).variable).toBe(name);
      expect((e as ConfigError).message).toContain(name);
      expect((e as ConfigError).message).toContain(reason);
    }
  });

  it('takes a REDIS_URL with a password, and throttles refusals by default', () => {
    const c = loadConfig({ REDIS_URL: 'redis://:s3cret-pw@10.0.0.5:6390/1' });
    expect(c.REDIS_URL).toBe('redis://:s3cret-pw@10.0.0.5:6390/1');
    expect(c.API_REFUSED_LIMIT).toBe(60);
  });

  it('does not echo a malformed Redis password in the error', () => {
    expect(() => loadConfig({ REDIS_URL: 'http://:supersecretvalue@x:6379' })).toThrow(ConfigError);
    expect(() => loadConfig({ REDIS_URL: 'http://:supersecretvalue@x:6379' })).not.toThrow(/supersecretvalue/);
  });

  it('does not echo a malformed secret in the error', () => {
    try {
      loadConfig({ MAAS_API_KEY: 'abc:supersecretvalue' });
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect((e as Error).message).not.toContain('supersecretvalue');
    }
  });
});

describe('loadConfig: Redis deployments', () => {
  it('folds Sentinel variables into REDIS_URL', () => {
    expect(
      loadConfig({ REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2:26379', REDIS_SENTINEL_NAME: 'ioplane', REDIS_PASSWORD: 'pw' }).REDIS_URL,
    ).toBe('redis+sentinel://:pw@10.0.0.1:26379,10.0.0.2:26379/ioplane');
    expect(loadConfig({ REDIS_CLUSTER_NODES: 'n1:7000,n2:7000' }).REDIS_URL).toBe('redis+cluster://n1:7000,n2:7000');
  });

  it('names the variable that is wrong', () => {
    expect(() => loadConfig({ REDIS_SENTINELS: 'a:1' })).toThrow(expect.objectContaining({ variable: 'REDIS_SENTINEL_NAME' }));
    expect(() => loadConfig({ REDIS_URL: 'redis+sentinel://a:1' })).toThrow(expect.objectContaining({ variable: 'REDIS_URL' }));
  });
});
