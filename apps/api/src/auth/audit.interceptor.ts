import { CallHandler, ExecutionContext, HttpException, Inject, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { Observable, catchError, concatMap, from, throwError } from 'rxjs';
import type { AuditRepository } from '@ioplane/state';
import { AUDIT_REPOSITORY } from './auth.tokens';
import type { AuthedRequest } from './auth.guard';

/** The success line could not be written: passed through as its cause, not audited a second time. */
class AuditWriteError extends Error {
  constructor(override readonly cause: Error) {
    super(cause.message);
  }
}

/**
 * Writes every mutating call that got past the guard: who, what, when, and how it ended. Calls
 * refused for authentication never get here; the guard records them apart (`appendRefused`).
 */
@Injectable()
export class AuditInterceptor implements NestInterceptor {
  private readonly log = new Logger('audit');
  constructor(@Inject(AUDIT_REPOSITORY) private readonly audit: AuditRepository) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    if (req.method === 'GET' || req.method === 'HEAD') return next.handle();
    const res = ctx.switchToHttp().getResponse<{ statusCode: number }>();
    const write = (status: number, result: 'ok' | 'error') =>
      this.audit.append({
        at: new Date().toISOString(),
        tokenId: req.token?.id ?? null,
        tokenName: req.token?.name ?? null,
        role: req.token?.role ?? null,
        method: req.method,
        path: (req.originalUrl ?? req.url).split('?')[0],
        status,
        result,
      });
    // Durable before acknowledged: the answer waits for its audit line. A failed audit write fails
    // the answer (503 when Redis is down) rather than acknowledging a change nobody recorded.
    return next.handle().pipe(
      concatMap((value) =>
        from(
          write(res.statusCode, 'ok').then(
            () => value,
            (e: Error) => {
              this.log.error(
                { err: e.message, method: req.method, path: (req.originalUrl ?? req.url).split('?')[0] },
                'audit write failed: the call is not acknowledged',
              );
              throw new AuditWriteError(e);
            },
          ),
        ),
      ),
      catchError((e: unknown) => {
        if (e instanceof AuditWriteError) return throwError(() => e.cause);
        return from(
          write(e instanceof HttpException ? e.getStatus() : 500, 'error').catch((auditErr: Error) => {
            // The call failed anyway; its own error is the answer, the lost audit line is logged loudly.
            this.log.error(
              { err: auditErr.message, method: req.method, path: (req.originalUrl ?? req.url).split('?')[0] },
              'audit write failed',
            );
          }),
        ).pipe(concatMap(() => throwError(() => e)));
      }),
    );
  }
}
