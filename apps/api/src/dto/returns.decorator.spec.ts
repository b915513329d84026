import 'reflect-metadata';
import { InternalServerErrorException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { lastValueFrom, of } from 'rxjs';
import { z } from 'zod';
import { ResponseContractInterceptor, Returns } from './returns.decorator';

class Sample {
  @Returns(z.object({ id: z.string(), count: z.int() }), { status: 202 })
  @Returns(z.object({ dryRun: z.literal(true) }), { status: 200 })
  handler() {
    return null;
  }
}

function run(enabled: boolean, status: number, body: unknown) {
  const ctx = {
    getHandler: () => Sample.prototype.handler,
    switchToHttp: () => ({ getResponse: () => ({ statusCode: status }) }),
  } as never;
  return lastValueFrom(new ResponseContractInterceptor(new Reflector(), enabled).intercept(ctx, { handle: () => of(body) }));
}

describe('ResponseContractInterceptor', () => {
  it('passes an answer that matches the schema of its status', async () => {
    await expect(run(true, 202, { id: 'pl-1', count: 2 })).resolves.toEqual({ id: 'pl-1', count: 2 });
    await expect(run(true, 200, { dryRun: true })).resolves.toEqual({ dryRun: true });
  });

  it('turns an answer that breaks its schema into a 500 response_contract naming the field', async () => {
    const e = await run(true, 202, { id: 'pl-1', count: 'two' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(InternalServerErrorException);
    expect((e as InternalServerErrorException).getResponse()).toMatchObject({ code: 'response_contract', field: 'count' });
  });

  it('refuses a status the operation does not document', async () => {
    const e = await run(true, 201, { id: 'pl-1', count: 1 }).catch((x: unknown) => x);
    expect((e as InternalServerErrorException).getResponse()).toMatchObject({ code: 'response_contract', field: '(status)' });
  });

  it('only documents when off (production)', async () => {
    await expect(run(false, 202, { anything: 1 })).resolves.toEqual({ anything: 1 });
  });
});
