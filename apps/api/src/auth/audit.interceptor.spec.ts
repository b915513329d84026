import { CallHandler, ExecutionContext } from '@nestjs/common';
import { firstValueFrom, of, throwError } from 'rxjs';
import type { AuditRepository } from '@ioplane/state';
import { AuditInterceptor } from './audit.interceptor';

function ctx(method = 'POST'): ExecutionContext {
  const req = { method, url: '/v1/placements', originalUrl: '/v1/placements', token: { id: 't1', name: 'ops', role: 'operator' } };
  const res = { statusCode: 202 };
  return { switchToHttp: () => ({ getRequest: () => req, getResponse: () => res }) } as unknown as ExecutionContext;
}

function deferredAudit() {
  const lines: unknown[] = [];
  let settle: { ok(): void; fail(e: Error): void } = { ok: () => undefined, fail: () => undefined };
  const audit = {
    append: (line: unknown) =>
      new Promise<void>((ok, fail) => {
        settle = { ok: () => (lines.push(line), ok()), fail };
      }),
  } as unknown as AuditRepository;
  return { audit, lines, settle: () => settle };
}

describe(AuditInterceptor.name, () => {
  it('answers a mutating call only after its audit line is written', async () => {
    const { audit, lines, settle } = deferredAudit();
    const sut = new AuditInterceptor(audit);
    const handler: CallHandler = { handle: () => of({ id: 'p1' }) };
    let answered = false;
    const answer = firstValueFrom(sut.intercept(ctx(), handler)).then((v) => ((answered = true), v));
    await new Promise((r) => setTimeout(r, 20));
    // The write is still pending: nothing was acknowledged yet.
    expect(answered).toBe(false);
    settle().ok();
    expect(await answer).toEqual({ id: 'p1' });
    expect(lines).toEqual([expect.objectContaining({ method: 'POST', path: '/v1/placements', status: 202, result: 'ok', tokenId: 't1' })]);
  });

  it('fails the answer when the audit line cannot be written', async () => {
    const { audit, settle } = deferredAudit();
    const sut = new AuditInterceptor(audit);
    const answer = firstValueFrom(sut.intercept(ctx(), { handle: () => of({ id: 'p1' }) }));
    await new Promise((r) => setTimeout(r, 5));
    const down = Object.assign(new Error('Reached the max retries per request limit'), { name: 'MaxRetriesPerRequestError' });
    settle().fail(down);
    await expect(answer).rejects.toBe(down);
  });

  it('a failed call is audited before its error goes out, and keeps its own error', async () => {
    const { audit, lines, settle } = deferredAudit();
    const sut = new AuditInterceptor(audit);
    const boom = new Error('boom');
    let settled = false;
    const answer = firstValueFrom(sut.intercept(ctx(), { handle: () => throwError(() => boom) })).catch(
      (e: unknown) => ((settled = true), e),
    );
    await new Promise((r) => setTimeout(r, 20));
    expect(settled).toBe(false);
    settle().ok();
    expect(await answer).toBe(boom);
    expect(lines).toEqual([expect.objectContaining({ status: 500, result: 'error' })]);
  });

  it('reads are not audited', async () => {
    const append = jest.fn();
    const sut = new AuditInterceptor({ append } as unknown as AuditRepository);
    expect(await firstValueFrom(sut.intercept(ctx('GET'), { handle: () => of(1) }))).toBe(1);
    expect(append).not.toHaveBeenCalled();
  });
});
