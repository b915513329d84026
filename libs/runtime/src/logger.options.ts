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
  // A MAAS key's parts can leak alone (the token secret in an OAuth header).
  for (const part of value.split(':')) if (part.length >= 8) knownSecrets.add(part);
}

function scrub(text: string): string {
  let out = text;
  for (const s of knownSecrets) if (out.includes(s)) out = out.split(s).join('[Redacted]');
  return out;
}

export function loggerOptions(level: string = process.env.LOG_LEVEL ?? 'info', name = 'ioplane'): LoggerOptions {
  return {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[Redacted]' },
    hooks: {
      // Path redaction cannot see a secret inside a free-text field; scrub strings as a second net.
      streamWrite: (line: string) => (knownSecrets.size ? scrub(line) : line),
    },
  };
}

export function createLogger(opts: { level?: string; name?: string; destination?: DestinationStream } = {}) {
  return pino(loggerOptions(opts.level, opts.name), opts.destination ?? pino.destination(1));
}
