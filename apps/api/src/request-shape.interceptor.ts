import {
  BadRequestException,
  CallHandler,
  ExecutionContext,
  Injectable,
  NestInterceptor,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { ROUTE_ARGS_METADATA } from '@nestjs/common/constants';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum';
import type { Observable } from 'rxjs';

interface ShapedRequest {
  headers: Record<string, string | string[] | undefined>;
  query?: Record<string, unknown>;
}

/** A body is there when the client announced one: a non-zero length, or a chunked stream. */
export function hasBody(headers: ShapedRequest['headers']): boolean {
  const length = headers['content-length'];
  return (length !== undefined && length !== '0') || headers['transfer-encoding'] !== undefined;
}

/** The media type alone, lowercase: `application/json` of `Application/JSON; charset=utf-8`. */
export function mediaType(contentType: string | string[] | undefined): string {
  return (Array.isArray(contentType) ? contentType[0] : (contentType ?? '')).split(';')[0].trim().toLowerCase();
}

/** application/json, in any case, with no parameter but an UTF-8 charset. */
export function isJson(contentType: string | string[] | undefined): boolean {
  if (mediaType(contentType) !== 'application/json') return false;
  const params = (Array.isArray(contentType) ? contentType[0] : (contentType ?? ''))
    .split(';')
    .slice(1)
    .map((s) => s.trim().toLowerCase());
  return params.every((p) => p === '' || /^charset="?utf-8"?$/.test(p));
}

/**
 * What every route shares about the shape of a request, checked after authentication and before
 * any pipe or handler:
 * - a body must be JSON: the JSON parser leaves any other body unread, and the route would then
 *   see an empty object and act on it (a text/plain POST queued a real fleet sync);
 * - a route that declares no query parameters accepts none, so a misspelt filter is a 400
 *   naming it rather than a silently unfiltered list. Routes that read their query validate it
 *   themselves with a strict schema (ValidQuery).
 */
@Injectable()
export class RequestShapeInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (ctx.getType() !== 'http') return next.handle();
    const req = ctx.switchToHttp().getRequest<ShapedRequest>();
    if (hasBody(req.headers) && !isJson(req.headers['content-type'])) {
      throw new UnsupportedMediaTypeException({
        code: 'unsupported_media_type',
        field: 'Content-Type',
        message: 'a request body must be JSON sent as Content-Type: application/json (UTF-8)',
      });
    }
    const unknown = Object.keys(req.query ?? {});
    if (unknown.length && !readsQuery(ctx)) {
      const field = unknown[0] || '(empty name)';
      throw new BadRequestException({
        code: 'validation',
        field,
        message: `query parameter ${field}: this endpoint takes no query parameters`,
        issues: unknown.map((k) => ({ field: k || '(empty name)', message: 'is not a known query parameter' })),
      });
    }
    return next.handle();
  }
}

function readsQuery(ctx: ExecutionContext): boolean {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, ctx.getClass(), ctx.getHandler().name) ?? {}) as Record<string, unknown>;
  return Object.keys(args).some((k) => k.split(':')[0] === String(RouteParamtypes.QUERY));
}
