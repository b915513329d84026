import { CallHandler, ExecutionContext, Injectable, InternalServerErrorException, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiExtension, ApiResponse } from '@nestjs/swagger';
import type { ZodType } from 'zod';
import { map, Observable } from 'rxjs';
import { openApiSchema } from '../zod.pipe';

const RESPONSE_CONTRACT = 'ioplane:response-contract';

/** Status code -> schema of the answer with that status. */
type Contract = Map<number, ZodType>;

/**
 * The body an operation answers with, documented in /docs-json from the same zod schema the
 * contract check validates against, so the document cannot drift from what is sent.
 */
export function Returns(schema: ZodType, o: { status?: number; description?: string } = {}): MethodDecorator {
  const status = o.status ?? 200;
  return (target, key, descriptor) => {
    ApiResponse({
      status,
      description: o.description ?? 'the answer',
      content: { 'application/json': { schema: openApiSchema(schema, 'output') as never } },
    })(target, key, descriptor);
    // Several @Returns on one handler (202 stored, 200 dry run): one schema per status.
    const contract: Contract = new Map(Reflect.getMetadata(RESPONSE_CONTRACT, descriptor.value as object) ?? []);
    contract.set(status, schema);
    SetMetadata(RESPONSE_CONTRACT, contract)(target, key, descriptor);
  };
}

/** An operation that takes no request body (a control verb on a resource named by its path), said in the document. */
export function NoBody(): MethodDecorator {
  return ApiExtension('x-ioplane-body', 'none');
}

/** A body that is not JSON (Prometheus text, a package file): its media type documented. */
export function ReturnsRaw(contentType: string, description: string): MethodDecorator {
  return ApiResponse({
    status: 200,
    description,
    content: { [contentType]: { schema: { type: 'string', ...(contentType.startsWith('text/') ? {} : { format: 'binary' }) } } },
  });
}

/**
 * With IOPLANE_CHECK_RESPONSES on (the end-to-end tests turn it on), every JSON answer is
 * validated against its operation's schema and a mismatch is a 500 `response_contract` naming the
 * field: every e2e test then doubles as a test of the documented contract. Off in production,
 * where the schemas only document.
 */
@Injectable()
export class ResponseContractInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly enabled: boolean,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const contract = this.enabled ? this.reflector.get<Contract | undefined>(RESPONSE_CONTRACT, ctx.getHandler()) : undefined;
    if (!contract) return next.handle();
    return next.handle().pipe(
      map((body) => {
        const status = ctx.switchToHttp().getResponse<{ statusCode: number }>().statusCode;
        const schema = contract.get(status);
        if (!schema)
          throw new InternalServerErrorException({
            code: 'response_contract',
            field: '(status)',
            message: `the answer's status ${status} is not documented`,
          });
        const r = schema.safeParse(body);
        if (r.success) return body;
        const issue = r.error.issues[0];
        const field = issue.path.map(String).join('.') || '(body)';
        throw new InternalServerErrorException({
          code: 'response_contract',
          field,
          message: `the answer breaks its documented schema at ${field}: ${issue.message}`,
        });
      }),
    );
  }
}
