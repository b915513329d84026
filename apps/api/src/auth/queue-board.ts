import type { INestApplication } from '@nestjs/common';
import { getQueueToken } from '@nestjs/bullmq';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import type { Queue } from 'bullmq';
import { QUEUES } from '@ioplane/queue';
import type { TokenRepository } from '@ioplane/state';
import { TOKEN_REPOSITORY } from './auth.tokens';

const BASE = '/admin/queues';
const COOKIE = 'ioplane_admin';

interface Req {
  headers: Record<string, string | undefined>;
  query: Record<string, string | undefined>;
  path: string;
}
interface Res {
  status(n: number): Res;
  json(b: unknown): void;
  setHeader(k: string, v: string): void;
  redirect(url: string): void;
}

function cookie(req: Req, name: string): string | null {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return null;
}

/**
 * bull-board at /admin/queues, for admins only. A browser cannot send a bearer header, so
 * `/admin/queues/login?token=` trades an admin token for an HttpOnly, SameSite=Strict cookie.
 */
export function mountQueueBoard(app: INestApplication): void {
  const tokens = app.get<TokenRepository>(TOKEN_REPOSITORY);
  const queues = Object.values(QUEUES).map((name) => new BullMQAdapter(app.get<Queue>(getQueueToken(name)), { readOnlyMode: false }));
  const board = new ExpressAdapter();
  board.setBasePath(BASE);
  createBullBoard({ queues, serverAdapter: board });
  const express = app.getHttpAdapter().getInstance() as { use(path: string, ...h: unknown[]): void };
  express.use(BASE, async (req: Req, res: Res, next: () => void) => {
    const login = req.path === '/login' ? req.query.token : undefined;
    const header = req.headers.authorization?.startsWith('Bearer ') ? req.headers.authorization.slice(7) : null;
    const presented = login ?? header ?? cookie(req, COOKIE);
    const token = presented ? await tokens.verify(presented) : null;
    if (!token) return void res.status(401).json({ error: { code: 'unauthorized', field: 'Authorization', message: `${BASE} needs an admin token (bearer header, or ${BASE}/login?token=...)` } });
    if (token.role !== 'admin') return void res.status(403).json({ error: { code: 'forbidden', field: 'Authorization', message: `${BASE} needs role admin; token ${token.name} has ${token.role}` } });
    if (login) {
      res.setHeader('set-cookie', `${COOKIE}=${encodeURIComponent(login)}; Path=${BASE}; HttpOnly; SameSite=Strict`);
      return void res.redirect(`${BASE}/`);
    }
    next();
  });
  express.use(BASE, board.getRouter());
}
