import { randomBytes } from 'node:crypto';
import { MaasConfigError } from './maas.errors';

export interface MaasCredentials {
  consumerKey: string;
  tokenKey: string;
  tokenSecret: string;
}

/**
 * Splits `consumer_key:token_key:token_secret`. The error never echoes the key:
 * it ends up in logs and the secret part is a bearer credential.
 */
export function parseApiKey(apiKey: unknown): MaasCredentials {
  if (typeof apiKey !== 'string') {
    throw new MaasConfigError('MAAS API key must be a string of the form consumer_key:token_key:token_secret', 'apiKey');
  }
  const parts = apiKey.trim().split(':');
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) {
    throw new MaasConfigError(
      `MAAS API key must have 3 non-empty colon-separated parts (consumer_key:token_key:token_secret), got ${parts.length} part(s)`,
      'apiKey',
    );
  }
  const [consumerKey, tokenKey, tokenSecret] = parts;
  return { consumerKey, tokenKey, tokenSecret };
}

/** RFC 3986 percent-encoding as OAuth 1.0a requires (encodeURIComponent leaves !'()* alone). */
function oauthEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function defaultNonce(): string {
  return randomBytes(16).toString('hex');
}

/**
 * OAuth 1.0a PLAINTEXT header as MAAS expects it. Must be called per HTTP attempt:
 * MAAS remembers nonces, so a retry that reuses one is rejected as a replay (401).
 * @param now milliseconds since the epoch (Date.now by default)
 */
export function oauthHeader(apiKey: string, now: () => number = Date.now, nonce: () => string = defaultNonce): string {
  return signWith(parseApiKey(apiKey), now, nonce);
}

export function signWith(creds: MaasCredentials, now: () => number = Date.now, nonce: () => string = defaultNonce): string {
  const timestamp = Math.floor(now() / 1000);
  return (
    'OAuth realm="MAAS API", oauth_version="1.0", oauth_signature_method="PLAINTEXT", ' +
    `oauth_consumer_key="${oauthEncode(creds.consumerKey)}", ` +
    `oauth_token="${oauthEncode(creds.tokenKey)}", ` +
    // signature is `<consumer secret (empty)>&<token secret>`; the `&` is encoded as %26 in the header
    `oauth_signature="%26${oauthEncode(creds.tokenSecret)}", ` +
    `oauth_nonce="${oauthEncode(nonce())}", ` +
    `oauth_timestamp="${timestamp}"`
  );
}
