import { BadRequestException, Controller, Get, Post } from '@nestjs/common';
import { z } from 'zod';
import { ValidBody, ValidQuery, ZodPipe } from './zod.pipe';

/** Where @nestjs/swagger keeps a route's documented parameters (its constants are not exported). */
const API_PARAMETERS = 'swagger/apiParameters';

const refusal = (run: () => unknown) => {
  try {
    run();
  } catch (e) {
    return (e as BadRequestException).getResponse() as {
      code: string;
      field: string;
      message: string;
      issues: Array<{ field: string; message: string }>;
    };
  }
  throw new Error('expected a 400');
};

describe(ZodPipe.name, () => {
  const body = new ZodPipe(z.strictObject({ name: z.string(), nested: z.strictObject({ a: z.number() }).optional() }), 'body');

  it('passes what the schema takes, and validates a missing body as an empty object', () => {
    expect(body.transform({ name: 'x' })).toEqual({ name: 'x' });
    expect(refusal(() => body.transform(undefined)).field).toBe('name');
  });

  it('names each unknown key, at any depth, rather than the object holding it', () => {
    const r = refusal(() => body.transform({ name: 'x', zz: 1, nested: { a: 1, b: 2 } }));
    expect(r.code).toBe('validation');
    expect(r.issues).toEqual(
      expect.arrayContaining([
        { field: 'zz', message: 'is not a known field' },
        { field: 'nested.b', message: 'is not a known field' },
      ]),
    );
    expect(r.issues).toHaveLength(2);
  });

  it('lists every issue and names the first', () => {
    const r = refusal(() => body.transform({ nested: { a: 'x' }, zz: 1 }));
    expect(r.issues.map((i) => i.field)).toEqual(['name', 'nested.a', 'zz']);
    expect(r.field).toBe('name');
    expect(r.message).toContain('body nested.a:');
  });

  it('reports a route parameter by its name', () => {
    expect(refusal(() => new ZodPipe(z.string().regex(/^a+$/), 'param', 'id').transform('b')).field).toBe('id');
  });
});

describe('ValidQuery and ValidBody', () => {
  const query = z.object({ zone: z.string().optional(), limit: z.coerce.number().int().min(1).default(5) });
  const sync = z.strictObject({ systemIds: z.array(z.string()) });
  @Controller('x')
  class Probe {
    @Get()
    list(@ValidQuery(query) q: unknown) {
      return q;
    }
    @Post()
    post(@ValidBody(sync) b: unknown) {
      return b;
    }
  }

  it('documents every query parameter with its schema, and whether it is required', () => {
    const params = Reflect.getMetadata(API_PARAMETERS, Probe.prototype.list) as Array<{
      name: string;
      required: boolean;
      schema: { type?: string };
    }>;
    expect(params.map((p) => [p.name, p.required, p.schema.type])).toEqual(
      expect.arrayContaining([
        ['zone', false, 'string'],
        ['limit', false, 'integer'],
      ]),
    );
  });

  it('documents the body with its schema', () => {
    const params = Reflect.getMetadata(API_PARAMETERS, Probe.prototype.post) as Array<{
      in: string;
      schema: { properties?: object; required?: string[] };
    }>;
    const b = params.find((p) => p.in === 'body');
    expect(b?.schema).toMatchObject({ type: 'object', required: ['systemIds'], additionalProperties: false });
  });
});
