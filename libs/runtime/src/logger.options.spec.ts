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
