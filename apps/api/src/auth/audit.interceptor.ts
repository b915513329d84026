import { CallHandler, ExecutionContext, HttpException, Inject, Injectable, Logger, NestInterceptor } from '@nestjs/common';
import { Observable, catchError, tap, throwError } from 'rxjs';
import type { AuditRepository } from '@ioplane/state';
import { AUDIT_REPOSITORY } from './auth.tokens';
import type { AuthedRequest } from './auth.guard';

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
      this.audit
        .append({
          at: new Date().toISOString(), tokenId: req.token?.id ?? null, tokenName: req.token?.name ?? null, role: req.token?.role ?? null,
          method: req.method, path: (req.originalUrl ?? req.url).split('?')[0], status, result,
        })
        // The call already happened; a lost audit line is logged loudly rather than failing it.
        .catch((e: Error) => this.log.error({ err: e.message, method: req.method, path: (req.originalUrl ?? req.url).split('?')[0] }, 'audit write failed'));
    return next.handle().pipe(
      tap({ next: () => void write(res.statusCode, 'ok') }),
      catchError((e: unknown) => {
        void write(e instanceof HttpException ? e.getStatus() : 500, 'error');
        return throwError(() => e);
      }),
    );
  }
}
