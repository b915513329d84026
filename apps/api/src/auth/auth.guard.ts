import {
  CanActivate,
  ExecutionContext,
  ForbiddenException,
  HttpException,
  HttpStatus,
  Inject,
  Injectable,
  Logger,
  UnauthorizedException,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ApiToken, AuditRepository, Role, TokenRepository } from '@ioplane/state';
import { AUDIT_REPOSITORY, REFUSAL_THROTTLE, TOKEN_REPOSITORY } from './auth.tokens';
import type { RefusalThrottle } from './refusal.throttle';
import { ROLE_KEY, RouteRole } from './role.decorator';

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };
const MAX_AUDIT_PATH = 512;
const log = new Logger('auth');

export interface AuthedRequest {
  method: string;
  originalUrl?: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  token?: ApiToken;
  ip?: string;
  socket?: { remoteAddress?: string };
}

interface HeaderResponse {
  setHeader(name: string, value: string): unknown;
}

/** The peer address: forwarded headers are not trusted (the API is not deployed behind a proxy that sets them). */
export function clientAddress(req: { ip?: string; socket?: { remoteAddress?: string } }): string {
  return req.ip ?? req.socket?.remoteAddress ?? 'unknown';
}

/**
 * What every refusal for authentication goes through, here and in bull-board: past the address's
 * limit it becomes a 429 and nothing is written; within it, a mutating call is recorded in the
 * audit's refused list (never among real changes). Returns the exception to throw.
 */
export async function refuse(
  deps: { throttle: RefusalThrottle; audit: AuditRepository },
  req: AuthedRequest,
  res: HeaderResponse,
  token: ApiToken | null,
  refusal: HttpException,
): Promise<HttpException> {
  const wait = deps.throttle.refuse(clientAddress(req));
  if (wait > 0) {
    res.setHeader('Retry-After', String(wait));
    return new HttpException(
      { code: 'too_many_refused', field: 'Authorization', message: `too many refused requests from this address: retry in ${wait} s` },
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    await deps.audit
      .appendRefused({
        at: new Date().toISOString(),
        tokenId: token?.id ?? null,
        tokenName: token?.name ?? null,
        role: token?.role ?? null,
        // Anonymous callers choose the path: its length is bounded like the list is.
        method: req.method.slice(0, 16),
        path: (req.originalUrl ?? req.url).split('?')[0].slice(0, MAX_AUDIT_PATH),
        status: refusal.getStatus(),
        result: 'refused',
      })
      // The caller is refused either way; a lost audit line must not turn the 401 into a 500.
      .catch((e: Error) => log.error({ err: e.message }, 'refused-call audit write failed'));
  }
  return refusal;
}

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(TOKEN_REPOSITORY) private readonly tokens: TokenRepository,
    @Inject(AUDIT_REPOSITORY) private readonly audit: AuditRepository,
    @Inject(REFUSAL_THROTTLE) private readonly throttle: RefusalThrottle,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const need = this.reflector.getAllAndOverride<RouteRole | undefined>(ROLE_KEY, [ctx.getHandler(), ctx.getClass()]);
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    // Fail closed: an endpoint that forgot to declare a role is reachable by nobody.
    if (!need) throw new ForbiddenException({ code: 'forbidden', message: `${req.method} ${req.url.split('?')[0]} declares no role` });
    if (need === 'public') return true;
    const header = req.headers.authorization;
    const value = Array.isArray(header) ? header[0] : header;
    const bearer = value?.startsWith('Bearer ') ? value.slice(7).trim() : null;
    const token = bearer ? await this.tokens.verify(bearer) : null;
    const res = ctx.switchToHttp().getResponse<HeaderResponse>();
    const path = req.url.split('?')[0];
    if (!token) {
      throw await refuse(
        { throttle: this.throttle, audit: this.audit },
        req,
        res,
        null,
        new UnauthorizedException({
          code: 'unauthorized',
          field: 'Authorization',
          message: bearer
            ? 'the bearer token is unknown, malformed or revoked'
            : `missing bearer token: ${req.method} ${path} needs role ${need}`,
        }),
      );
    }
    if (RANK[token.role] < RANK[need]) {
      throw await refuse(
        { throttle: this.throttle, audit: this.audit },
        req,
        res,
        token,
        new ForbiddenException({
          code: 'forbidden',
          field: 'Authorization',
          message: `${req.method} ${path} needs role ${need}; token ${token.name} has ${token.role}`,
        }),
      );
    }
    req.token = token;
    return true;
  }
}
