import { BadRequestException, Body, createParamDecorator, ExecutionContext, PipeTransform, Query } from '@nestjs/common';
import { ApiBody, ApiHeader, ApiQuery } from '@nestjs/swagger';
import { z, ZodError, ZodObject, ZodType } from 'zod';

export type RequestPart = 'query' | 'body' | 'param' | 'header';

export interface FieldIssue {
  field: string;
  message: string;
}

/**
 * One entry per problem, each naming its field. An unknown key is its own entry named after the
 * key (zod reports it at the object holding it, which would only say "body").
 */
export function fieldIssues(error: ZodError, fallback: string): FieldIssue[] {
  return error.issues.flatMap((i) => {
    const at = i.path.map(String);
    if (i.code === 'unrecognized_keys') {
      return i.keys.map((k) => ({ field: [...at, k || '(empty name)'].join('.'), message: 'is not a known field' }));
    }
    return [{ field: at.join('.') || fallback, message: i.message }];
  });
}

/** The 400 every validation failure becomes: the first field named, every issue listed. */
export function validationError(error: ZodError, where: RequestPart, name?: string): BadRequestException {
  const issues = fieldIssues(error, name ?? where);
  return new BadRequestException({
    code: 'validation',
    field: issues[0].field,
    message: issues.map((i) => `${where} ${i.field}: ${i.message}`).join('; '),
    issues,
  });
}

/** Validates a request part; a failure names the field and the reason, nothing else happens. */
export class ZodPipe<T> implements PipeTransform<unknown, T> {
  constructor(
    readonly schema: ZodType<T>,
    private readonly where: RequestPart,
    /** For a single route parameter, the name to report. */
    private readonly name?: string,
  ) {}
  transform(value: unknown): T {
    // A body-less request or an empty query arrives as undefined; a missing header or parameter is just missing.
    const r = this.schema.safeParse(value === undefined && (this.where === 'body' || this.where === 'query') ? {} : value);
    if (r.success) return r.data;
    throw validationError(r.error, this.where, this.name);
  }
}

/** Schemas in the OpenAPI document, in the dialect OpenAPI 3.0 reads. */
export function openApiSchema(schema: ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'openapi-3.0' }) as Record<
    string,
    unknown
  >;
  return rest;
}

function decorateMethod(target: object, key: string | symbol | undefined, decorate: MethodDecorator): void {
  if (key === undefined) return;
  const descriptor = Object.getOwnPropertyDescriptor(target, key);
  if (descriptor) decorate(target, key, descriptor);
}

/**
 * The whole query string, validated by a strict schema (an unknown parameter is a 400 naming it)
 * and documented parameter by parameter, so the OpenAPI document lists exactly what is accepted.
 */
export function ValidQuery(schema: ZodObject): ParameterDecorator {
  const strict = schema.strict();
  return (target, key, index) => {
    for (const [name, field] of Object.entries(schema.shape as Record<string, ZodType>)) {
      decorateMethod(target, key, ApiQuery({ name, required: !field.safeParse(undefined).success, schema: openApiSchema(field) as never }));
    }
    Query(new ZodPipe(strict, 'query'))(target, key, index);
  };
}

/** A JSON body validated by `schema` and documented with it (the fuzz suite reads the document). */
export function ValidBody(schema: ZodType): ParameterDecorator {
  return (target, key, index) => {
    decorateMethod(target, key, ApiBody({ schema: openApiSchema(schema) as never }));
    Body(new ZodPipe(schema, 'body'))(target, key, index);
  };
}

/**
 * Validated as it is read, not in a pipe: Nest runs a handler's pipes concurrently and the body's
 * would win, so a bad header would go unnamed behind a bad body.
 */
const header = createParamDecorator((spec: { name: string; schema: ZodType }, ctx: ExecutionContext) => {
  const r = spec.schema.safeParse(ctx.switchToHttp().getRequest<{ headers: Record<string, unknown> }>().headers[spec.name.toLowerCase()]);
  if (!r.success) throw validationError(r.error, 'header', spec.name);
  return r.data;
});

/** One request header validated by `schema` and documented; a bad one is named even when the body is bad too. */
export function ValidHeader(name: string, schema: ZodType, description?: string): ParameterDecorator {
  return (target, key, index) => {
    decorateMethod(
      target,
      key,
      ApiHeader({ name, required: !schema.safeParse(undefined).success, description, schema: openApiSchema(schema) as never }),
    );
    header({ name, schema })(target, key, index);
  };
}
