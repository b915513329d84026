import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataDirError, ensurePrivateDir, secureDataDir } from './data.dir';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('secureDataDir', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'ioplane-datadir-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('creates the data and keys folders 0700', () => {
    const r = secureDataDir({ IOPLANE_DATA_DIR: join(root, 'var') });
    expect(mode(r.dataDir)).toBe(0o700);
    expect(mode(r.keysDir)).toBe(0o700);
    expect(r.keysDir).toBe(join(root, 'var', 'keys'));
  });

  it('narrows folders and secrets an older start left readable, leaving public keys readable', () => {
    const data = join(root, 'var');
    mkdirSync(join(data, 'keys'), { recursive: true });
    chmodSync(data, 0o755);
    chmodSync(join(data, 'keys'), 0o777);
    writeFileSync(join(data, 'keys', 'signing.key'), 'k', { mode: 0o644 });
    writeFileSync(join(data, 'keys', 'redis.password'), 'p', { mode: 0o666 });
    writeFileSync(join(data, 'keys', 'signing.pub'), 'pub', { mode: 0o644 });
    secureDataDir({ IOPLANE_DATA_DIR: data });
    expect([mode(data), mode(join(data, 'keys'))]).toEqual([0o700, 0o700]);
    expect([mode(join(data, 'keys', 'signing.key')), mode(join(data, 'keys', 'redis.password'))]).toEqual([0o600, 0o600]);
    expect(mode(join(data, 'keys', 'signing.pub'))).toBe(0o644);
  });

  it('honours IOPLANE_KEYS_DIR', () => {
    const keys = join(root, 'elsewhere');
    mkdirSync(keys, { mode: 0o755 });
    chmodSync(keys, 0o755);
    expect(secureDataDir({ IOPLANE_DATA_DIR: join(root, 'var'), IOPLANE_KEYS_DIR: keys }).keysDir).toBe(keys);
    expect(mode(keys)).toBe(0o700);
  });

  it('refuses to take over a shared folder such as /tmp', () => {
    const shared = join(root, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    expect(() => ensurePrivateDir(shared)).toThrow(DataDirError);
    expect(() => ensurePrivateDir(shared)).toThrow(/IOPLANE_DATA_DIR: .* shared folder/);
    expect(mode(shared)).toBe(0o777);
  });
});
