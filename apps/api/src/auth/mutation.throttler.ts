import { ExecutionContext, Injectable } from '@nestjs/common';
import { ThrottlerGuard } from '@nestjs/throttler';
import type { AuthedRequest } from './auth.guard';

/** Rate-limits mutating calls per token (per address without one); reads are not limited. */
@Injectable()
export class MutationThrottler extends ThrottlerGuard {
  protected override async shouldSkip(ctx: ExecutionContext): Promise<boolean> {
    const method = ctx.switchToHttp().getRequest<AuthedRequest>().method;
    return method === 'GET' || method === 'HEAD';
  }

  protected override async getTracker(req: Record<string, unknown>): Promise<string> {
    const r = req as unknown as AuthedRequest & { ip?: string };
    return r.token?.id ?? r.ip ?? 'unknown';
  }
}
