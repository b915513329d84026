import { ForbiddenException, HttpException, HttpStatus, type INestApplication, Logger, UnauthorizedException } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bullmq';
import { ThrottlerStorage } from '@nestjs/throttler';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { QUEUES } from '@ioplane/queue';
import { type IoplaneConfig } from '@ioplane/runtime';
import { IOPLANE_CONFIG } from '@ioplane/composition';
import type { AuditRepository, TokenRepository } from '@ioplane/state';
import { AUDIT_REPOSITORY, REFUSAL_THROTTLE, TOKEN_REPOSITORY } from './auth.tokens';
import { refuse, type AuthedRequest } from './auth.guard';
import type { RefusalThrottle } from './refusal.throttle';

const BASE = '/admin/queues';
const COOKIE = 'ioplane_admin';
const MINUTE = 60_000;
const log = new Logger('queue-board');

interface Req extends AuthedRequest {
  headers: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  path: string;
}
interface Res {
  statusCode: number;
  status(n: number): Res;
  json(b: unknown): void;
  setHeader(k: string, v: string): void;
  redirect(url: string): void;
  once(event: 'finish', fn: () => void): void;
}

function cookie(req: Req, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return null;
}

function answer(res: Res, e: HttpException): void {
  const body = e.getResponse() as { code: string; message: string; field?: string };
  res.status(e.getStatus()).json({ error: { code: body.code, message: body.message, ...(body.field ? { field: body.field } : {}) } });
}

/**
 * bull-board at /admin/queues, for admins only. A browser cannot send a bearer header, so
 * `/admin/queues/login?token=` trades an admin token for an HttpOnly, SameSite=Strict cookie.
 * It lives outside Nest's guards, so it applies the API's rules itself: refusals go through the
 * per-address refusal throttle and the refused audit; mutations (retry, clean, pause, remove)
 * through the per-token rate limit and the audit, like any mutating API call.
 */
export function mountQueueBoard(app: INestApplication): void {
  const tokens = app.get<TokenRepository>(TOKEN_REPOSITORY);
  const audit = app.get<AuditRepository>(AUDIT_REPOSITORY);
  const throttle = app.get<RefusalThrottle>(REFUSAL_THROTTLE);
  const storage = app.get<ThrottlerStorage>(ThrottlerStorage);
  const config = app.get<IoplaneConfig>(IOPLANE_CONFIG);
  const queues = Object.values(QUEUES).map((name) => new BullMQAdapter(app.get<Queue>(getQueueToken(name)), { readOnlyMode: false }));
  const board = new ExpressAdapter();
  board.setBasePath(BASE);
  createBullBoard({ queues, serverAdapter: board });
  const express = app.getHttpAdapter().getInstance() as { use(path: string, ...h: unknown[]): void };
  const gate = async (req: Req, res: Res, next: () => void) => {
    const login = req.path === '/login' ? req.query.token : undefined;
    const header = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : null;
    const presented = login ?? header ?? cookie(req, COOKIE);
    const token = presented ? await tokens.verify(presented) : null;
    if (!token) {
      const e = new UnauthorizedException({
        code: 'unauthorized',
        field: 'Authorization',
        message: `${BASE} needs an admin token (bearer header, or ${BASE}/login?token=...)`,
      });
      return answer(res, await refuse({ throttle, audit }, req, res, null, e));
    }
    if (token.role !== 'admin') {
      const e = new ForbiddenException({
        code: 'forbidden',
        field: 'Authorization',
        message: `${BASE} needs role admin; token ${token.name} has ${token.role}`,
      });
      return answer(res, await refuse({ throttle, audit }, req, res, token, e));
    }
    if (login) {
      res.setHeader('set-cookie', `${COOKIE}=${encodeURIComponent(login)}; Path=${BASE}; HttpOnly; SameSite=Strict`);
      return void res.redirect(`${BASE}/`);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const hits = await storage.increment(`bull-board:${token.id}`, MINUTE, config.API_RATE_LIMIT, MINUTE, 'mutations');
      if (hits.isBlocked) {
        res.setHeader('Retry-After', String(Math.max(1, hits.timeToBlockExpire)));
        return answer(
          res,
          new HttpException(
            { code: 'too_many_requests', message: `over ${config.API_RATE_LIMIT} mutating calls per minute for token ${token.name}` },
            HttpStatus.TOO_MANY_REQUESTS,
          ),
        );
      }
      const path = (req.originalUrl ?? req.url).split('?')[0];
      res.once('finish', () => {
        audit
          .append({
            at: new Date().toISOString(),
            tokenId: token.id,
            tokenName: token.name,
            role: token.role,
            method: req.method,
            path,
            status: res.statusCode,
            result: res.statusCode < 400 ? 'ok' : 'error',
          })
          // The call already happened; a lost audit line is logged loudly rather than hidden.
          .catch((e: Error) => log.error({ err: e.message, method: req.method, path }, 'audit write failed'));
      });
    }
    next();
  };
  express.use(BASE, (req: Req, res: Res, next: (e?: unknown) => void) => void gate(req, res, next).catch(next));
  express.use(BASE, board.getRouter());
}
