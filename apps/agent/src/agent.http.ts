import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHash, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import { AgentError } from '@ioplane/agent-api';
import { DeviceError, type DeviceErrorCode } from '@ioplane/devices';

/** What the agent answers with: the very error its client rebuilds (status, code, message, field, details). */
export class HttpError extends AgentError {}

/** Every driver code has its status: a code added to DeviceErrorCode without one does not compile. */
const STATUS: Record<DeviceErrorCode, number> = {
  bad_signature: 422,
  digest_mismatch: 422,
  bad_object: 422,
  offload_refused: 422,
  kernel_refused: 422,
  slot_limit: 422,
  map_memory: 422,
  port_out_of_range: 422,
  unsupported_target: 422,
  unprofiled: 422,
  unknown_profile: 422,
  chain_unsupported: 422,
  map_incompatible: 422,
  flash_unsupported: 422,
  foreign_program: 409,
  device_busy: 409,
  device_hung: 503,
  nothing_to_roll_back: 409,
  not_found: 404,
  aborted: 409,
  kernel_failed: 500,
  unknown_interface: 422,
  missing_image: 422,
};

export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof DeviceError) return new HttpError(STATUS[e.code] ?? 500, e.code, e.message, e.field, e.details);
  return new HttpError(500, 'internal', (e as Error)?.message ?? String(e));
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

const MAX_BODY = 64 << 20;

export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw new HttpError(413, 'too_large', `request body over ${MAX_BODY} bytes`);
    chunks.push(c as Buffer);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'invalid_json', 'request body is not valid JSON', 'body');
  }
}

/** Decodes a path or one of its segments; a malformed %-escape is the client's mistake (400), not a crash. */
export function decodePath(raw: string, field = 'path'): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'invalid_path', `${field}: malformed percent-encoding`, field);
  }
}

/** Parses with zod; a failure names the first offending field (`modules.0.digest`). */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const field = issue.path.map(String).join('.') || 'body';
  throw new HttpError(400, 'invalid_request', `${field}: ${issue.message}`, field);
}

/** Constant-time bearer check: both sides hashed to equal length first. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer (.+)$/.exec(header ?? '');
  const given = createHash('sha256')
    .update(m ? m[1] : '')
    .digest();
  const want = createHash('sha256').update(token).digest();
  return timingSafeEqual(given, want) && !!m;
}
