import { MaasClient, MaasConfigError, oauthHeader } from './index';

describe('oauthHeader', () => {
  it('builds the PLAINTEXT header MAAS expects', () => {
    const header = oauthHeader(
      'ck:tk:ts',
      () => 1_700_000_000_999,
      () => 'n0nce',
    );
    expect(header).toBe(
      'OAuth realm="MAAS API", oauth_version="1.0", oauth_signature_method="PLAINTEXT", ' +
        'oauth_consumer_key="ck", oauth_token="tk", oauth_signature="%26ts", oauth_nonce="n0nce", oauth_timestamp="1700000000"',
    );
  });

  it('uses a fresh nonce on every call by default', () => {
    const a = oauthHeader('ck:tk:ts').match(/oauth_nonce="([^"]+)"/)![1];
    const b = oauthHeader('ck:tk:ts').match(/oauth_nonce="([^"]+)"/)![1];
    expect(a).not.toBe(b);
    expect(a.length).toBeGreaterThanOrEqual(16);
  });

  it.each(['', 'only-one', 'a:b', 'a:b:c:d', 'a::c'])('rejects malformed key %p without echoing it', (key) => {
    expect(() => oauthHeader(key)).toThrow(MaasConfigError);
  });

  it('never puts the key in the config error message', () => {
    const secretish = 'consumerAAA:tokenBBB:secretCCC:extra';
    let caught: unknown;
    try {
      new MaasClient({ url: 'http://maas:5240/MAAS/', apiKey: secretish });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MaasConfigError);
    const e = caught as MaasConfigError;
    expect(e.code).toBe('config');
    expect(e.field).toBe('apiKey');
    for (const part of secretish.split(':')) expect(e.message).not.toContain(part);
  });

  it('rejects a url that is not http(s)', () => {
    expect(() => new MaasClient({ url: 'ftp://maas/MAAS/', apiKey: 'a:b:c' })).toThrow(MaasConfigError);
    expect(() => new MaasClient({ url: 'not a url', apiKey: 'a:b:c' })).toThrow(MaasConfigError);
  });

  it.each([
    ['http://maas:5240/MAAS', 'http://maas:5240/MAAS/api/2.0/'],
    ['http://maas:5240/MAAS/', 'http://maas:5240/MAAS/api/2.0/'],
    ['http://maas:5240/MAAS/api/2.0', 'http://maas:5240/MAAS/api/2.0/'],
    ['https://maas.example/MAAS/api/2.0/', 'https://maas.example/MAAS/api/2.0/'],
  ])('normalises %s', (url, root) => {
    const client = new MaasClient({ url, apiKey: 'a:b:c' });
    expect(client.apiRoot).toBe(root);
    client.close();
  });
});
