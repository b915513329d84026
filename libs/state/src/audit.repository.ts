import type { Redis } from 'ioredis';
import { StateKeys } from './state.keys';
import type { Role } from './token.repository';

export interface AuditEntry {
  at: string;
  tokenId: string | null;
  tokenName: string | null;
  role: Role | null;
  method: string;
  path: string;
  status: number;
  result: 'ok' | 'refused' | 'error';
}

export interface AuditBounds {
  /** Entries kept of calls that passed authentication. */
  keep: number;
  /** Entries kept of calls refused for authentication. */
  keepRefused: number;
}

export const AUDIT_BOUNDS: AuditBounds = { keep: 10_000, keepRefused: 1_000 };

/**
 * Who did what, when, with what result: every mutating call, newest first, bounded. Calls refused
 * for authentication go to a list of their own with a smaller cap, so anonymous traffic can
 * neither push real changes out of the audit nor grow it without end.
 */
export class AuditRepository {
  private readonly keys: StateKeys;
  constructor(
    private readonly redis: Redis,
    prefix: string,
    private readonly bounds: AuditBounds = AUDIT_BOUNDS,
  ) {
    this.keys = new StateKeys(prefix);
  }

  /** A call that passed authentication (its result may still be an error). */
  async append(e: AuditEntry): Promise<void> {
    await this.push(this.keys.audit, e, this.bounds.keep);
  }

  /** A call refused for authentication (401/403). */
  async appendRefused(e: AuditEntry): Promise<void> {
    await this.push(this.keys.auditRefused, e, this.bounds.keepRefused);
  }

  async list(limit = 100): Promise<AuditEntry[]> {
    return this.read(this.keys.audit, limit);
  }

  async listRefused(limit = 100): Promise<AuditEntry[]> {
    return this.read(this.keys.auditRefused, limit);
  }

  private async push(key: string, e: AuditEntry, keep: number): Promise<void> {
    const r = await this.redis
      .multi()
      .lpush(key, JSON.stringify(e))
      .ltrim(key, 0, keep - 1)
      .exec();
    const failed = r?.find(([err]) => err);
    if (!r || failed) throw failed?.[0] ?? new Error(`audit write to ${key} was discarded`);
  }

  private async read(key: string, limit: number): Promise<AuditEntry[]> {
    return (await this.redis.lrange(key, 0, limit - 1)).map((s) => JSON.parse(s) as AuditEntry);
  }
}
