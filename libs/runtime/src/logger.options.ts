import pino, { DestinationStream, LoggerOptions } from 'pino';

/**
 * Paths pino replaces before serialising. They cover the places a secret travels:
 * HTTP headers, MAAS credentials, API tokens, and config objects.
 */
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'authorization',
  'apiKey',
  '*.apiKey',
  'maasApiKey',
  '*.maasApiKey',
  'MAAS_API_KEY',
  '*.MAAS_API_KEY',
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'config.MAAS_API_KEY',
];

const knownSecrets = new Set<string>();

/** Secrets whose value must never appear anywhere in a log line, even inside a message string. */
export function registerSecret(value: string | undefined | null): void {
  if (!value) return;
  knownSecrets.add(value);
  // A URL carries it percent-encoded (a Redis password in REDIS_URL); a client uses it decoded.
  knownSecrets.add(encodeURIComponent(value));
  try {
    knownSecrets.add(decodeURIComponent(value));
  } catch {
    // Not percent-encoded: the value itself is registered.
  }
  // A MAAS key's parts can leak alone (the token secret in an OAuth header).
  for (const part of value.split(':')) if (part.length >= 8) knownSecrets.add(part);
}

/** A field or parameter name that says credential, by how it ends: `token`, `api_key`, `faultToken`, `oauth_signature`. */
const CREDENTIAL_NAME = '(?:token|key|passw(?:or)?d|pwd|secret|signature|credentials?|auth|authorization|session|cookie)';

/**
 * Secrets by shape, for the ones nobody registered: a token pasted into a query string
 * (pino-http logs every request's URL), a URL's password, a bearer credential in a message.
 */
const SECRET_SHAPES: Array<[RegExp, string]> = [
  // API tokens, wherever they appear.
  [/\biop_[A-Za-z0-9_-]{8,}/g, 'iop_[Redacted]'],
  // A parameter whose name says credential: `?token=`, `&api_key=`, `MAAS_API_KEY=`, `password=`, `oauth_signature=`.
  [new RegExp(`([?&;\\s"'(,]|^)([A-Za-z0-9_.-]*${CREDENTIAL_NAME}=)[^&#\\s"'\\\\]+`, 'gi'), '$1$2[Redacted]'],
  // The same names as JSON fields at any depth (pino-http logs `req.query` as an object): `"password":"..."`.
  [new RegExp(`("[A-Za-z0-9_.-]*${CREDENTIAL_NAME}"\\s*:\\s*)"(?:[^"\\\\]|\\\\.)*"`, 'gi'), '$1"[Redacted]"'],
  // The password of a URL: `redis://:pw@host`, `https://user:pw@host`.
  [/([A-Za-z][A-Za-z0-9+.-]*:\/\/[^\s/:@"'\\]*:)[^\s/@"'\\]+@/g, '$1[Redacted]@'],
  // A MAAS API key (consumer:token:secret), pasted anywhere, plain or percent-encoded.
  [/\b[A-Za-z0-9]{16,}(?::|%3A)[A-Za-z0-9]{16,}(?::|%3A)[A-Za-z0-9]{24,}\b/gi, '[Redacted]'],
  // A bearer credential quoted in a message.
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]{8,}/g, '$1[Redacted]'],
];

/** Both nets: the shapes above, then every registered secret's exact value. */
export function scrub(text: string): string {
  let out = text;
  for (const [shape, replacement] of SECRET_SHAPES) out = out.replace(shape, replacement);
  for (const s of knownSecrets) if (out.includes(s)) out = out.split(s).join('[Redacted]');
  return out;
}

export function loggerOptions(level: string = process.env.LOG_LEVEL ?? 'info', name = 'ioplane'): LoggerOptions {
  return {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    hooks: {
      // Path redaction cannot see a secret inside a free-text field or a URL; scrub every line as a second net.
      streamWrite: scrub,
    },
  };
}

export function createLogger(opts: { level?: string; name?: string; destination?: DestinationStream } = {}) {
  return pino(loggerOptions(opts.level, opts.name), opts.destination ?? pino.destination(1));
}
