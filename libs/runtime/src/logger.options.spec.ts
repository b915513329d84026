import { Writable } from 'node:stream';
import { createLogger, registerSecret } from './logger.options';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, destination: destination as unknown as NodeJS.WritableStream & { write(s: string): boolean } };
}

describe('logger redaction', () => {
  const maasKey = 'ck4Sim9x:tk7Token9x:ts0SecretValue9x';
  const apiToken = 'iop_live_0123456789abcdef';

  it('never writes a MAAS key, an API token or an Authorization header', () => {
    registerSecret(maasKey);
    registerSecret(apiToken);
    const { lines, destination } = capture();
    const log = createLogger({ level: 'trace', destination });
    log.info({ req: { headers: { authorization: `OAuth oauth_signature="&ts0SecretValue9x"` } } }, 'request');
    log.info({ config: { MAAS_API_KEY: maasKey }, apiKey: maasKey, token: apiToken }, 'config loaded');
    log.error({ err: new Error(`MAAS refused key ${maasKey}`) }, `call failed with token ${apiToken}`);
    log.warn({ headers: { Authorization: `Bearer ${apiToken}` } }, 'outbound');
    const out = lines.join('');
    expect(lines).toHaveLength(4);
    expect(out).toContain('[Redacted]');
    for (const secret of [maasKey, apiToken, 'ts0SecretValue9x', 'tk7Token9x']) expect(out).not.toContain(secret);
  });

  it('keeps ordinary fields', () => {
    const { lines, destination } = capture();
    createLogger({ destination }).info({ systemId: 'abc123' }, 'synced');
    expect(JSON.parse(lines[0])).toMatchObject({ systemId: 'abc123', msg: 'synced' });
  });
});

describe('redaction of URLs and query strings', () => {
  const line = (build: (log: ReturnType<typeof createLogger>) => void) => {
    const { lines, destination } = capture();
    build(createLogger({ level: 'trace', destination }));
    return lines.join('');
  };

  it('masks an API token anywhere, and credential parameters of a query string', () => {
    const token = 'iop_abcdefghij12_ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq';
    const out = line((log) =>
      log.info(
        { req: { method: 'GET', url: `/admin/queues/login?token=${token}&page=2` } },
        `GET /v1/x?api_key=k3y-value-1&password=hunter2xyz&key=plainkeyvalue&fault_token=faultfaultfault&ok=1 Bearer ${token.slice(4)}`,
      ),
    );
    for (const secret of [token, token.slice(4), 'k3y-value-1', 'hunter2xyz', 'plainkeyvalue', 'faultfaultfault'])
      expect(out).not.toContain(secret);
    expect(out).toContain('page=2');
    expect(out).toContain('ok=1');
    expect(JSON.parse(out).req.url).toBe('/admin/queues/login?token=[Redacted]&page=2');
  });

  it('masks the password of a Redis (or any) URL, and a MAAS key pasted into a query', () => {
    const maas = 'AbCdEfGhIjKlMnOpQr:StUvWxYz0123456789:abcdefghijklmnopqrstuvwxyz012345';
    const out = line((log) => {
      log.info({ redis: 'redis://:s3cretRedisPw@127.0.0.1:6390/0' }, 'connecting to rediss://admin:an0therPw@10.0.0.1:6379');
      log.info({ req: { url: `/v1/fleet/machines?zone=${maas}` } }, 'request');
    });
    for (const secret of ['s3cretRedisPw', 'an0therPw', maas, 'abcdefghijklmnopqrstuvwxyz012345']) expect(out).not.toContain(secret);
    expect(out).toContain('redis://:[Redacted]@127.0.0.1:6390/0');
  });

  it('masks credential fields of a logged object at any depth (pino-http logs req.query), keeping ids and names', () => {
    const out = line((log) =>
      log.info(
        {
          req: { query: { password: 'hunter2hunter2', api_key: 'k3yk3yk3y', zone: 'zone-a' }, deep: { x: { faultToken: 'ffffffffff' } } },
          tokenId: 'abc123def456',
          tokenName: 'ops',
        },
        'q',
      ),
    );
    for (const secret of ['hunter2hunter2', 'k3yk3yk3y', 'ffffffffff']) expect(out).not.toContain(secret);
    expect(JSON.parse(out)).toMatchObject({
      req: { query: { zone: 'zone-a', password: '[Redacted]' } },
      tokenId: 'abc123def456',
      tokenName: 'ops',
    });
  });

  it('masks a percent-encoded MAAS key', () => {
    const maas = 'AbCdEfGhIjKlMnOpQr:StUvWxYz0123456789:abcdefghijklmnopqrstuvwxyz012345';
    const out = line((log) => log.info({ req: { url: `/v1/fleet/machines?zone=${encodeURIComponent(maas)}` } }, 'request'));
    expect(out).not.toContain('abcdefghijklmnopqrstuvwxyz012345');
  });

  it('masks a registered secret in its percent-encoded form too', () => {
    registerSecret('p@ss/w0rd:with-odd-chars');
    const out = line((log) =>
      log.info(`url redis://x:${encodeURIComponent('p@ss/w0rd:with-odd-chars')}@h and raw p@ss/w0rd:with-odd-chars`),
    );
    expect(out).not.toContain('w0rd');
  });
});
