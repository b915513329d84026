import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
interface JsonResponse {
  status(code: number): { json(body: unknown): void };
}

/** Every error leaves the API as `{error: {code, message, field?}}`. */
@Catch()
export class ApiErrorFilter implements ExceptionFilter {
  private readonly log = new Logger('api');
  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<JsonResponse>();
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const obj = typeof body === 'object' && body ? (body as Record<string, unknown>) : { message: String(body) };
      const code = typeof obj.code === 'string' ? obj.code : (HttpStatus[status] ?? 'error').toLowerCase();
      const message = Array.isArray(obj.message) ? obj.message.join('; ') : String(obj.message ?? exception.message);
      res.status(status).json({ error: { code, message, ...(obj.field ? { field: obj.field } : {}), ...(obj.diagnostics ? { diagnostics: obj.diagnostics } : {}), ...(obj.issues ? { issues: obj.issues } : {}) } });
      return;
    }
    this.log.error({ err: exception }, 'unhandled error');
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  }
}
