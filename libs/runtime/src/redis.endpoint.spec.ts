import { parseRedisEndpoint, redactRedisUrl, RedisEndpointError, redisOptions, redisSecrets, redisUrlFrom } from './redis.endpoint';

describe('RedisEndpoint', () => {
  it('reads a single server with a percent-encoded password and a database', () => {
    expect(parseRedisEndpoint('redis://:p%40ss@10.0.0.1:6380/2')).toEqual({
      kind: 'single',
      host: '10.0.0.1',
      port: 6380,
      username: undefined,
      password: 'p@ss',
      db: 2,
      tls: false,
    });
    expect(parseRedisEndpoint('rediss://u:x@h')).toMatchObject({ kind: 'single', host: 'h', port: 6379, username: 'u', tls: true });
  });

  it('reads Sentinel: the sentinels (26379 by default), the master name, the data password and the sentinels own', () => {
    expect(parseRedisEndpoint('redis+sentinel://:pw@s1:26380,s2,[::1]:26381/prod-master/3?sentinelPassword=sp%21')).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26380 },
        { host: 's2', port: 26379 },
        { host: '::1', port: 26381 },
      ],
      name: 'prod-master',
      username: undefined,
      password: 'pw',
      sentinelPassword: 'sp!',
      db: 3,
    });
  });

  it('reads a cluster seed list', () => {
    expect(parseRedisEndpoint('redis+cluster://:pw@n1:7000,n2:7001')).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ],
      username: undefined,
      password: 'pw',
    });
  });

  it.each([
    ['http://h:1', 'REDIS_URL', /redis\+sentinel/],
    ['redis://a:1,b:2', 'REDIS_URL', /one host/],
    ['redis+sentinel://s1:26379', 'REDIS_URL', /master name/],
    ['redis+cluster://n1:1/2', 'REDIS_URL', /database/],
    ['redis://h:99999', 'REDIS_URL', /host\[:port\]/],
    ['redis://h:1/x', 'REDIS_URL', /database/],
  ])('refuses %s naming %s and why', (url, field, why) => {
    expect(() => parseRedisEndpoint(url)).toThrow(RedisEndpointError);
    try {
      parseRedisEndpoint(url);
    } catch (e) {
      expect((e as RedisEndpointError).field).toBe(field);
      expect((e as Error).message).toMatch(why);
    }
  });

  it('folds REDIS_SENTINELS / REDIS_CLUSTER_NODES into one URL, reusing the password', () => {
    expect(redisUrlFrom({ REDIS_SENTINELS: 'a:1,b:2', REDIS_SENTINEL_NAME: 'm', REDIS_PASSWORD: 'p/w' })).toBe(
      'redis+sentinel://:p%2Fw@a:1,b:2/m',
    );
    expect(redisUrlFrom({ REDIS_URL: 'redis://:pw@x:1', REDIS_CLUSTER_NODES: 'n1:7000' })).toBe('redis+cluster://:pw@n1:7000');
    expect(redisUrlFrom({ REDIS_URL: 'redis://x:1' })).toBe('redis://x:1');
    expect(() => redisUrlFrom({ REDIS_SENTINELS: 'a:1' })).toThrow(expect.objectContaining({ field: 'REDIS_SENTINEL_NAME' }));
    expect(() => redisUrlFrom({ REDIS_SENTINELS: 'a:1', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: 'n:1' })).toThrow(
      expect.objectContaining({ field: 'REDIS_CLUSTER_NODES' }),
    );
    expect(() => redisUrlFrom({ REDIS_CLUSTER_NODES: 'n:1,' })).toThrow(expect.objectContaining({ field: 'REDIS_CLUSTER_NODES' }));
  });

  it('names every secret for the redactor and masks them in a URL', () => {
    const url = 'redis+sentinel://:data-pw@s1:1/m?sentinelPassword=sent-pw';
    expect(redisSecrets(url)).toEqual(['data-pw', 'sent-pw']);
    expect(redactRedisUrl(url)).toBe('redis+sentinel://***@s1:1/m?sentinelPassword=***');
  });

  it('follows the primary: Sentinel options ask for the master on every reconnect; READONLY reconnects', () => {
    const e = parseRedisEndpoint('redis+sentinel://s1:1/m');
    if (e.kind === 'cluster') throw new Error('unexpected');
    const o = redisOptions(e);
    expect(o).toMatchObject({ sentinels: [{ host: 's1', port: 1 }], name: 'm', role: 'master', failoverDetector: false });
    expect(o.reconnectOnError!(new Error("READONLY You can't write against a read only replica."))).toBe(2);
    expect(o.reconnectOnError!(new Error('ERR other'))).toBe(false);
  });
});
