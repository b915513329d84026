import { Body, Controller, Delete, Get, HttpCode, Inject, NotFoundException, Param, Post, Query, Req } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { AuditRepository, ROLES, TokenRepository } from '@ioplane/state';
import { ZodPipe } from '../zod.pipe';
import { AUDIT_REPOSITORY, TOKEN_REPOSITORY } from './auth.tokens';
import type { AuthedRequest } from './auth.guard';
import { RequireRole } from './role.decorator';

const createBody = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits, dot, dash or underscore'),
  role: z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }),
});
const tokenId = z.string().regex(/^[a-z0-9]{12}$/, 'must be a token id');
const auditQuery = z.strictObject({ limit: z.coerce.number().int().min(1).max(1000).default(100) });

@ApiTags('access')
@Controller('v1')
export class TokensController {
  constructor(
    @Inject(TOKEN_REPOSITORY) private readonly tokens: TokenRepository,
    @Inject(AUDIT_REPOSITORY) private readonly audit: AuditRepository,
  ) {}

  @Post('tokens')
  @HttpCode(201)
  @RequireRole('admin')
  async create(@Body(new ZodPipe(createBody, 'body')) body: z.infer<typeof createBody>, @Req() req: AuthedRequest) {
    const { token, record } = await this.tokens.create(body.name, body.role, req.token?.name ?? null);
    // The secret is shown once, here; only its hash is kept.
    return { ...record, token };
  }

  @Get('tokens')
  @RequireRole('admin')
  async list() {
    const items = await this.tokens.list();
    return { count: items.length, items };
  }

  @Delete('tokens/:id')
  @RequireRole('admin')
  async revoke(@Param('id', new ZodPipe(tokenId, 'param', 'id')) id: string) {
    const r = await this.tokens.revoke(id);
    if (!r) throw new NotFoundException({ code: 'not_found', field: 'id', message: `no token ${id}` });
    return r;
  }

  @Get('audit')
  @RequireRole('admin')
  async auditLog(@Query(new ZodPipe(auditQuery, 'query')) q: z.infer<typeof auditQuery>) {
    const items = await this.audit.list(q.limit);
    return { count: items.length, items };
  }

  /** Mutating calls refused for authentication, kept apart from real changes and capped lower. */
  @Get('audit/refused')
  @RequireRole('admin')
  async refusedLog(@Query(new ZodPipe(auditQuery, 'query')) q: z.infer<typeof auditQuery>) {
    const items = await this.audit.listRefused(q.limit);
    return { count: items.length, items };
  }
}
