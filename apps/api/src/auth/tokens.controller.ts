import { Controller, Delete, Get, HttpCode, Inject, NotFoundException, Param, Post, Req } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { AuditRepository, ROLES, TokenRepository } from '@ioplane/state';
import { ValidBody, ValidQuery, ZodPipe } from '../zod.pipe';
import { AUDIT_REPOSITORY, TOKEN_REPOSITORY } from './auth.tokens';
import type { AuthedRequest } from './auth.guard';
import { RequireRole } from './role.decorator';
import { Returns } from '../dto/returns.decorator';
import { apiToken, auditList, createdToken, tokenList } from '../dto/access.dto';

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
  @Returns(createdToken, { status: 201, description: 'the token; its secret is shown here once' })
  async create(@ValidBody(createBody) body: z.infer<typeof createBody>, @Req() req: AuthedRequest) {
    const { token, record } = await this.tokens.create(body.name, body.role, req.token?.name ?? null);
    // The secret is shown once, here; only its hash is kept.
    return { ...record, token };
  }

  @Get('tokens')
  @RequireRole('admin')
  @Returns(tokenList)
  async list() {
    const items = await this.tokens.list();
    return { count: items.length, items };
  }

  @Delete('tokens/:id')
  @RequireRole('admin')
  @Returns(apiToken)
  async revoke(@Param('id', new ZodPipe(tokenId, 'param', 'id')) id: string) {
    const r = await this.tokens.revoke(id);
    if (!r) throw new NotFoundException({ code: 'not_found', field: 'id', message: `no token ${id}` });
    return r;
  }

  @Get('audit')
  @RequireRole('admin')
  @Returns(auditList)
  async auditLog(@ValidQuery(auditQuery) q: z.infer<typeof auditQuery>) {
    const items = await this.audit.list(q.limit);
    return { count: items.length, items };
  }

  /** Mutating calls refused for authentication, kept apart from real changes and capped lower. */
  @Get('audit/refused')
  @RequireRole('admin')
  @Returns(auditList)
  async refusedLog(@ValidQuery(auditQuery) q: z.infer<typeof auditQuery>) {
    const items = await this.audit.listRefused(q.limit);
    return { count: items.length, items };
  }
}
