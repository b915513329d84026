import { CanActivate, ExecutionContext, ForbiddenException, Inject, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { ApiToken, AuditRepository, Role, TokenRepository } from '@ioplane/state';
import { AUDIT_REPOSITORY, TOKEN_REPOSITORY } from './auth.tokens';
import { ROLE_KEY, RouteRole } from './role.decorator';

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

export interface AuthedRequest {
  method: string;
  originalUrl?: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  token?: ApiToken;
}

@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(TOKEN_REPOSITORY) private readonly tokens: TokenRepository,
    @Inject(AUDIT_REPOSITORY) private readonly audit: AuditRepository,
  ) {}

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const need = this.reflector.getAllAndOverride<RouteRole | undefined>(ROLE_KEY, [ctx.getHandler(), ctx.getClass()]);
    const req = ctx.switchToHttp().getRequest<AuthedRequest>();
    // Fail closed: an endpoint that forgot to declare a role is reachable by nobody.
    if (!need) throw new ForbiddenException({ code: 'forbidden', message: `${req.method} ${req.url} declares no role` });
    if (need === 'public') return true;
    const header = req.headers.authorization;
    const value = Array.isArray(header) ? header[0] : header;
    const bearer = value?.startsWith('Bearer ') ? value.slice(7).trim() : null;
    const token = bearer ? await this.tokens.verify(bearer) : null;
    if (!token) {
      await this.refused(req, null, 401);
      throw new UnauthorizedException({
        code: 'unauthorized',
        field: 'Authorization',
        message: bearer ? 'the bearer token is unknown, malformed or revoked' : `missing bearer token: ${req.method} ${req.url} needs role ${need}`,
      });
    }
    if (RANK[token.role] < RANK[need]) {
      await this.refused(req, token, 403);
      throw new ForbiddenException({ code: 'forbidden', field: 'Authorization', message: `${req.method} ${req.url} needs role ${need}; token ${token.name} has ${token.role}` });
    }
    req.token = token;
    return true;
  }

  private async refused(req: AuthedRequest, token: ApiToken | null, status: number): Promise<void> {
    if (req.method === 'GET' || req.method === 'HEAD') return;
    await this.audit.append({
      at: new Date().toISOString(), tokenId: token?.id ?? null, tokenName: token?.name ?? null, role: token?.role ?? null,
      method: req.method, path: (req.originalUrl ?? req.url).split('?')[0], status, result: 'refused',
    });
  }
}
