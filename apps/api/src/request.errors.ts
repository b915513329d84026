import { BadRequestException, HttpException, HttpStatus, PayloadTooLargeException } from '@nestjs/common';

/** The largest JSON body: a module upload carries its sources or object as base64. */
export const BODY_LIMIT_BYTES = 8 << 20;

interface BodyParserError {
  status?: number;
  type?: string;
  expose?: boolean;
}

type Next = (err?: unknown) => void;

/**
 * Body-parser refuses a body before any route runs, with errors Nest does not map (a body over
 * the limit would leave as a 500). Express error middleware placed right after the parsers turns
 * them into HttpExceptions, which then leave through the API's error filter in the shared shape.
 */
export function bodyErrors(err: unknown, _req: unknown, _res: unknown, next: Next): void {
  const e = err as BodyParserError;
  if (e?.type === 'entity.too.large') {
    return next(
      new PayloadTooLargeException({ code: 'too_large', field: 'body', message: `body: over the limit of ${BODY_LIMIT_BYTES >> 20} MB` }),
    );
  }
  if (e?.expose && typeof e.status === 'number' && e.status >= 400 && e.status < 500 && !(err instanceof HttpException)) {
    // Unsupported charset or encoding, an aborted upload, a length that lies: the client's fault, said plainly.
    const code = e.status === HttpStatus.UNSUPPORTED_MEDIA_TYPE ? 'unsupported_media_type' : 'validation';
    return next(new HttpException({ code, field: 'body', message: `body: ${(err as Error).message}` }, e.status));
  }
  next(err);
}

/**
 * Express decodes route parameters only when a route matches, and Nest turns its URIError into a
 * bare 400; checking the whole path first gives every route (and none) the same answer, naming it.
 */
export function rejectMalformedPath(req: { path: string }, _res: unknown, next: Next): void {
  try {
    decodeURIComponent(req.path);
  } catch {
    return next(new BadRequestException({ code: 'validation', field: 'path', message: 'path: malformed percent-encoding' }));
  }
  next();
}
