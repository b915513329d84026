import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { signArtifact, verifyArtifact } from '@ioplane/agent-api';
import { KeyFileError, loadOrCreateSecret, loadOrCreateSigningKeys } from './signing.keys';

let root: string;
const mode = (p: string) => statSync(p).mode & 0o777;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'ioplane-keys-spec-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('loadOrCreateSigningKeys', () => {
  it('creates an ed25519 pair on first use (private key 0600) and reads the same pair afterwards', () => {
    const dir = join(root, 'keys');
    const first = loadOrCreateSigningKeys(dir);
    expect(mode(join(dir, 'signing.key'))).toBe(0o600);
    expect(readFileSync(join(dir, 'signing.key'), 'utf8')).toBe(first.privateKeyPem);
    expect(readFileSync(join(dir, 'signing.pub'), 'utf8')).toBe(first.publicKeyPem);
    expect(first.publicKeyPem).toContain('BEGIN PUBLIC KEY');
    const again = loadOrCreateSigningKeys(dir);
    expect(again).toEqual(first);
    const digest = 'ab'.repeat(32);
    expect(verifyArtifact(digest, signArtifact(digest, first.privateKeyPem), again.publicKeyPem)).toBe(true);
  });

  it('rewrites a missing or foreign public file from the private key', () => {
    const keys = loadOrCreateSigningKeys(root);
    unlinkSync(join(root, 'signing.pub'));
    expect(loadOrCreateSigningKeys(root).publicKeyPem).toBe(keys.publicKeyPem);
    writeFileSync(join(root, 'signing.pub'), 'junk');
    expect(loadOrCreateSigningKeys(root).publicKeyPem).toBe(keys.publicKeyPem);
    expect(readFileSync(join(root, 'signing.pub'), 'utf8')).toBe(keys.publicKeyPem);
  });

  it('refuses a private key file that is not ed25519 PEM, naming the file', () => {
    writeFileSync(join(root, 'signing.key'), 'not a key', { mode: 0o600 });
    let err: unknown;
    try {
      loadOrCreateSigningKeys(root);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KeyFileError);
    expect(err).toMatchObject({ code: 'invalid_key', field: join(root, 'signing.key') });
  });

  it('tightens a private key left readable by others', () => {
    loadOrCreateSigningKeys(root);
    chmodSync(join(root, 'signing.key'), 0o644);
    loadOrCreateSigningKeys(root);
    expect(mode(join(root, 'signing.key'))).toBe(0o600);
  });

  it('gives every process racing on an empty folder the same pair', async () => {
    const script = `require(${JSON.stringify(resolve(__dirname, 'signing.keys.ts'))}).loadOrCreateSigningKeys(process.argv[1]); process.stdout.write(require('fs').readFileSync(process.argv[1] + '/signing.pub', 'utf8'))`;
    const dir = join(root, 'race');
    const run = () =>
      new Promise<string>((ok, fail) =>
        execFile(process.execPath, ['-r', '@swc-node/register', '-e', script, dir], { cwd: resolve(__dirname, '../../..') }, (e, out) =>
          e ? fail(e) : ok(out),
        ),
      );
    const outs = await Promise.all([run(), run(), run(), run()]);
    expect(new Set(outs).size).toBe(1);
    expect(outs[0]).toBe(loadOrCreateSigningKeys(dir).publicKeyPem);
  }, 30_000);
});

describe('loadOrCreateSecret', () => {
  it('creates 32 random bytes as hex (file mode 0600) and returns the same secret afterwards', () => {
    const s = loadOrCreateSecret(root, 'agent-token.secret');
    expect(s).toMatch(/^[0-9a-f]{64}$/);
    expect(mode(join(root, 'agent-token.secret'))).toBe(0o600);
    expect(loadOrCreateSecret(root, 'agent-token.secret')).toBe(s);
    expect(loadOrCreateSecret(root, 'other.secret')).not.toBe(s);
  });

  it('accepts an operator-provided secret, refuses a short one and a path as name', () => {
    writeFileSync(join(root, 'mine'), `  ${'x'.repeat(40)}\n`, { mode: 0o600 });
    expect(loadOrCreateSecret(root, 'mine')).toBe('x'.repeat(40));
    writeFileSync(join(root, 'short'), 'abc', { mode: 0o600 });
    expect(() => loadOrCreateSecret(root, 'short')).toThrow(KeyFileError);
    expect(() => loadOrCreateSecret(root, '../escape')).toThrow(/plain file name/);
  });
});
