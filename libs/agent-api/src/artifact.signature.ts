import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto';

export interface SigningKeys {
  publicKeyPem: string;
  privateKeyPem: string;
}

const DIGEST_HEX = /^[0-9a-f]{64}$/;

export function generateSigningKeys(): SigningKeys {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

export function sha256Hex(bytes: Buffer | Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Bytes are hashed; a string must already be the sha256 hex digest of the artifact. */
function digestOf(bytesOrDigest: Buffer | Uint8Array | string): Buffer {
  if (typeof bytesOrDigest === 'string') {
    const d = bytesOrDigest.toLowerCase();
    if (!DIGEST_HEX.test(d)) throw new TypeError('digest must be 64 hex characters (sha256)');
    return Buffer.from(d, 'hex');
  }
  return createHash('sha256').update(bytesOrDigest).digest();
}

function asKey(pem: string | KeyObject, kind: 'private' | 'public'): KeyObject {
  if (typeof pem !== 'string') return pem;
  return kind === 'private' ? createPrivateKey(pem) : createPublicKey(pem);
}

/** ed25519 signature (base64) over the raw 32-byte sha256 digest of the artifact. */
export function signArtifact(bytesOrDigest: Buffer | Uint8Array | string, privateKeyPem: string | KeyObject): string {
  return sign(null, digestOf(bytesOrDigest), asKey(privateKeyPem, 'private')).toString('base64');
}

/** False for a wrong, malformed or foreign signature; never throws on bad input. */
export function verifyArtifact(
  bytesOrDigest: Buffer | Uint8Array | string,
  signatureBase64: string,
  publicKeyPem: string | KeyObject,
): boolean {
  try {
    const sig = Buffer.from(signatureBase64, 'base64');
    if (sig.length !== 64) return false;
    return verify(null, digestOf(bytesOrDigest), asKey(publicKeyPem, 'public'), sig);
  } catch {
    return false;
  }
}
