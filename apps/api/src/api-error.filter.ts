import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Inject, Logger, Optional } from '@nestjs/common';
import Redis, { ReplyError } from 'ioredis';
import { STATE_REDIS } from '@ioplane/composition';
interface JsonResponse {
  status(code: number): { json(body: unknown): void };
}

/** Every error leaves the API as `{error: {code, message, field?}}`. */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('api');
  constructor(@Optional() @Inject(STATE_REDIS) private readonly redis?: Redis) {}

  /**
   * The store, not the request, failed: ioredis gave up on the command (MaxRetriesPerRequestError),
   * the state connection is not up, or the server is a read-only replica (Redis's READONLY code).
   */
  private storeUnavailable(e: unknown): boolean {
    if (!(e instanceof Error)) return false;
    if (e.name === 'MaxRetriesPerRequestError') return true;
    if (e instanceof ReplyError && /^READONLY\b/.test(e.message)) return true;
    return !!this.redis && this.redis.status !== 'ready';
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<JsonResponse>();
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const obj = typeof body === 'object' && body ? (body as Record<string, unknown>) : { message: String(body) };
      const code = typeof obj.code === 'string' ? obj.code : (HttpStatus[status] ?? 'error').toLowerCase();
      const message = Array.isArray(obj.message) ? obj.message.join('; ') : String(obj.message ?? exception.message);
      res.status(status).json({
        error: {
          code,
          message,
          ...(obj.field ? { field: obj.field } : {}),
          ...(obj.diagnostics ? { diagnostics: obj.diagnostics } : {}),
          ...(obj.issues ? { issues: obj.issues } : {}),
          ...(obj.checks ? { checks: obj.checks } : {}),
          ...(obj.leased ? { leased: obj.leased } : {}),
        },
      });
      return;
    }
    if (this.storeUnavailable(exception)) {
      this.log.warn({ err: (exception as Error).message }, 'state store unavailable');
      res
        .status(503)
        .json({ error: { code: 'store_unavailable', message: 'the state store (Redis) is unavailable or read-only; retry shortly' } });
      return;
    }
    this.log.error({ err: exception }, 'unhandled error');
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  }
}
