import { BadRequestException, Controller, Get, Query, UnsupportedMediaTypeException } from '@nestjs/common';
import type { CallHandler, ExecutionContext } from '@nestjs/common';
import { of } from 'rxjs';
import { hasBody, isJson, RequestShapeInterceptor } from './request-shape.interceptor';

@Controller()
class Routes {
  @Get('none')
  none() {
    return 1;
  }
  @Get('some')
  some(@Query() q: unknown) {
    return q;
  }
}

const ctx = (handler: keyof Routes, req: { headers: Record<string, string>; query?: Record<string, string> }) =>
  ({
    getType: () => 'http',
    getClass: () => Routes,
    getHandler: () => Routes.prototype[handler],
    switchToHttp: () => ({ getRequest: () => req }),
  }) as unknown as ExecutionContext;
const next: CallHandler = { handle: () => of('handled') };

describe(RequestShapeInterceptor.name, () => {
  const sut = new RequestShapeInterceptor();

  it('refuses a body that is not JSON with 415, naming Content-Type', () => {
    for (const type of [
      undefined,
      'text/plain',
      'application/xml',
      'multipart/form-data; boundary=x',
      'application/x-www-form-urlencoded',
      'application/json; charset=latin1',
      'application/jsonx',
    ]) {
      const headers: Record<string, string> = { 'content-length': '2', ...(type ? { 'content-type': type } : {}) };
      expect(() => sut.intercept(ctx('none', { headers }), next)).toThrow(UnsupportedMediaTypeException);
    }
  });

  it('lets JSON bodies and body-less requests through', () => {
    const cases: Array<Record<string, string>> = [
      { 'content-length': '2', 'content-type': 'Application/JSON; charset="UTF-8"' },
      {},
      { 'content-length': '0', 'content-type': 'text/plain' },
    ];
    for (const headers of cases) {
      expect(sut.intercept(ctx('none', { headers }), next)).toBeDefined();
    }
  });

  it('refuses query parameters on a route that reads none, naming them', () => {
    try {
      sut.intercept(ctx('none', { headers: {}, query: { zoen: 'a', limt: '1' } }), next);
      throw new Error('expected a 400');
    } catch (e) {
      expect(e).toBeInstanceOf(BadRequestException);
      expect((e as BadRequestException).getResponse()).toMatchObject({
        code: 'validation',
        field: 'zoen',
        issues: [{ field: 'zoen' }, { field: 'limt' }],
      });
    }
  });

  it('leaves the query to a route that reads it', () => {
    expect(sut.intercept(ctx('some', { headers: {}, query: { zone: 'a' } }), next)).toBeDefined();
  });

  it('tells a body from its absence and JSON from look-alikes', () => {
    expect(hasBody({ 'transfer-encoding': 'chunked' })).toBe(true);
    expect(hasBody({ 'content-length': '0' })).toBe(false);
    expect(isJson('application/json; charset=utf-8')).toBe(true);
    expect(isJson('application/json; charset=utf-8; x=1')).toBe(false);
    expect(isJson('application/vnd.api+json')).toBe(false);
  });
});
