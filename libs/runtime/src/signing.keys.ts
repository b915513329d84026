import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKeys, type SigningKeys } from '@ioplane/agent-api';

export type KeyFileErrorCode = 'invalid_key' | 'invalid_secret' | 'invalid_name';

/** A key or secret file that exists but cannot be used; `field` is the file's path. */
export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
  constructor(
    readonly code: KeyFileErrorCode,
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

const PRIVATE_FILE = 'signing.key';
const PUBLIC_FILE = 'signing.pub';
const SECRET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MIN_SECRET_CHARS = 32;

function tmpName(path: string): string {
  return `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
}

/**
 * Creates `path` with `content` (mode 0600) unless it already exists, atomically: the bytes go
 * to a private temp file first and are hard-linked into place, which fails if another process
 * got there first. Nobody ever reads a half-written file. Returns whether this call created it.
 */
function createExclusive(path: string, content: string): boolean {
  const tmp = tmpName(path);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  } finally {
    unlinkSync(tmp);
  }
}

function replaceAtomically(path: string, content: string, mode: number): void {
  const tmp = tmpName(path);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, content);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** A secret left readable by others is tightened rather than trusted as is. */
function keepPrivate(path: string): void {
  if ((statSync(path).mode & 0o077) !== 0) chmodSync(path, 0o600);
}

/**
 * The ed25519 key pair artifacts are signed with: `dir/signing.key` (PKCS#8 PEM, mode 0600) and
 * `dir/signing.pub` (SPKI PEM). Generated on first use; read afterwards, so a restarted worker or
 * fleet-sim keeps verifying what was signed before. The private key is the source of truth: the
 * public file is rewritten from it when missing or not matching.
 */
export function loadOrCreateSigningKeys(dir: string): SigningKeys {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const privPath = join(dir, PRIVATE_FILE);
  const pubPath = join(dir, PUBLIC_FILE);
  let privateKeyPem: string;
  try {
    privateKeyPem = readFileSync(privPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    createExclusive(privPath, generateSigningKeys().privateKeyPem);
    privateKeyPem = readFileSync(privPath, 'utf8');
  }
  keepPrivate(privPath);
  let publicKeyPem: string;
  try {
    const key = createPrivateKey(privateKeyPem);
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType} key, not ed25519`);
    publicKeyPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString();
  } catch (e) {
    throw new KeyFileError('invalid_key', `${privPath} is not an ed25519 private key in PEM: ${(e as Error).message}`, privPath);
  }
  let onDisk: string | null = null;
  try {
    onDisk = readFileSync(pubPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (onDisk !== publicKeyPem) replaceAtomically(pubPath, publicKeyPem, 0o644);
  return { privateKeyPem, publicKeyPem };
}

/**
 * A secret kept in `dir/name` (mode 0600): 32 random bytes as hex, created atomically on first
 * use and read afterwards. An operator may put their own secret there (at least 32 characters;
 * surrounding whitespace is ignored).
 */
export function loadOrCreateSecret(dir: string, name: string): string {
  if (!SECRET_NAME.test(name))
    throw new KeyFileError('invalid_name', `secret file name '${name}' must be a plain file name (letters, digits, . _ -)`, 'name');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, name);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    createExclusive(path, `${randomBytes(32).toString('hex')}\n`);
    text = readFileSync(path, 'utf8');
  }
  keepPrivate(path);
  const secret = text.trim();
  if (secret.length < MIN_SECRET_CHARS) {
    throw new KeyFileError(
      'invalid_secret',
      `${path} holds ${secret.length} characters; a secret needs at least ${MIN_SECRET_CHARS}`,
      path,
    );
  }
  return secret;
}
