import { randomBytes } from 'node:crypto';
import { MaasError } from './maas-sim.errors';

export interface ApiKey {
  consumerKey: string;
  tokenKey: string;
  tokenSecret: string;
}

/** `consumer_key:token_key:token_secret`; null when the shape is wrong. */
export function parseApiKey(text: string): ApiKey | null {
  const parts = text.split(':');
  if (parts.length !== 3 || parts.some((p) => p === '' || /\s/.test(p))) return null;
  return { consumerKey: parts[0], tokenKey: parts[1], tokenSecret: parts[2] };
}

/** Same shape and lengths MAAS generates (18/18/32 characters). */
export function generateApiKey(): string {
  const alnum = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const word = (n: number) => Array.from(randomBytes(n), (b) => alnum[b % alnum.length]).join('');
  return `${word(18)}:${word(18)}:${word(32)}`;
}

/** The header a MAAS client sends: PLAINTEXT signature `&<token_secret>`, fresh nonce and timestamp each time. */
export function buildOAuthHeader(apiKey: string, opts: { nonce?: string; timestamp?: number | string } = {}): string {
  const key = parseApiKey(apiKey);
  if (!key) throw new Error('API key must be consumer_key:token_key:token_secret');
  const nonce = opts.nonce ?? randomBytes(16).toString('hex');
  const ts = opts.timestamp ?? Math.floor(Date.now() / 1000);
  const enc = encodeURIComponent;
  return [
    'OAuth realm="MAAS API"',
    'oauth_version="1.0"',
    'oauth_signature_method="PLAINTEXT"',
    `oauth_consumer_key="${enc(key.consumerKey)}"`,
    `oauth_token="${enc(key.tokenKey)}"`,
    `oauth_signature="${enc(`&${enc(key.tokenSecret)}`)}"`,
    `oauth_nonce="${enc(nonce)}"`,
    `oauth_timestamp="${ts}"`,
  ].join(', ');
}

const REQUIRED = ['oauth_consumer_key', 'oauth_token', 'oauth_signature', 'oauth_signature_method', 'oauth_timestamp', 'oauth_nonce'];
const NONCE_TTL_MS = 15 * 60_000;
const NONCE_MAX = 200_000;

function parseHeader(header: string): Map<string, string> | null {
  const m = /^\s*OAuth\s+(.*)$/is.exec(header);
  if (!m) return null;
  const out = new Map<string, string>();
  const re = /([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"([^"]*)"|([^,\s]*))/g;
  for (let x = re.exec(m[1]); x; x = re.exec(m[1])) {
    const raw = x[2] ?? x[3] ?? '';
    let value = raw;
    try {
      value = decodeURIComponent(raw);
    } catch {
      // A stray `%` in a raw value is kept as written.
    }
    out.set(x[1], value);
  }
  return out;
}

export interface Principal {
  username: string;
  key: ApiKey;
}

/** MAAS's OAuth 1.0 PLAINTEXT check, including its nonce memory. */
export class OAuthVerifier {
  private readonly nonces = new Map<string, number>();

  constructor(private readonly users: Array<{ username: string; key: ApiKey }>) {}

  verify(header: string | undefined, now = Date.now()): Principal {
    const params = header ? parseHeader(header) : null;
    const missing = params ? REQUIRED.filter((p) => !params.has(p)) : REQUIRED;
    if (!params || missing.length) {
      throw new MaasError(
        401,
        header ? `Authorization Error: Missing OAuth parameters: ${missing.join(', ')}.` : 'Authorization Error: no credentials supplied.',
        {
          'WWW-Authenticate': 'OAuth realm="MAAS API"',
        },
      );
    }
    const ts = params.get('oauth_timestamp')!;
    if (!/^\d+$/.test(ts)) throw new MaasError(400, `Bad Request: invalid oauth_timestamp '${ts}', it must be an integer.`);
    const user = this.users.find(
      (u) => u.key.consumerKey === params.get('oauth_consumer_key') && u.key.tokenKey === params.get('oauth_token'),
    );
    if (!user) throw new MaasError(401, 'Authorization Error: Invalid API key.');
    const method = params.get('oauth_signature_method')!.toUpperCase();
    if (method !== 'PLAINTEXT') throw new MaasError(401, `Authorization Error: Signature method ${method} not supported.`);
    // Header values were percent-decoded once; a client that double-encoded the secret is decoded once more.
    const sig = params.get('oauth_signature')!;
    const expected = `&${user.key.tokenSecret}`;
    let ok = sig === expected;
    if (!ok) {
      try {
        ok = decodeURIComponent(sig) === expected;
      } catch {
        ok = false;
      }
    }
    if (!ok) throw new MaasError(401, 'Authorization Error: Invalid signature.');
    const nonceKey = `${user.key.consumerKey}:${user.key.tokenKey}:${params.get('oauth_nonce')}`;
    if (this.nonces.has(nonceKey)) throw new MaasError(401, `Authorization Error: Nonce already used: ${params.get('oauth_nonce')}`);
    this.remember(nonceKey, now);
    return { username: user.username, key: user.key };
  }

  private remember(key: string, now: number): void {
    this.nonces.set(key, now);
    if (this.nonces.size <= NONCE_MAX) return;
    for (const [k, at] of this.nonces) {
      if (now - at < NONCE_TTL_MS && this.nonces.size <= NONCE_MAX) break;
      this.nonces.delete(k);
    }
  }
}
