import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Redis } from 'ioredis';
import { StateKeys } from './state.keys';

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export interface ApiToken {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string | null;
  revokedAt: string | null;
}

interface StoredToken extends ApiToken {
  /** sha256 of the secret part: the secret itself is never stored. */
  hash: string;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const TOKEN = /^iop_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;

/** API tokens: `iop_<id>_<secret>`, kept hashed; revocation takes effect on the next request. */
export class TokenRepository {
  private readonly keys: StateKeys;
  constructor(
    private readonly redis: Redis,
    prefix: string,
  ) {
    this.keys = new StateKeys(prefix);
  }

  async create(name: string, role: Role, createdBy: string | null = null): Promise<{ token: string; record: ApiToken }> {
    const id = randomBytes(9)
      .toString('base64url')
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '0')
      .slice(0, 12);
    const secret = randomBytes(32).toString('base64url');
    const record: StoredToken = { id, name, role, createdAt: new Date().toISOString(), createdBy, revokedAt: null, hash: sha256(secret) };
    await this.redis.hset(this.keys.tokens, id, JSON.stringify(record));
    return { token: `iop_${id}_${secret}`, record: publicView(record) };
  }

  /** The token's record when it is well-formed, known, unrevoked and its secret matches. */
  async verify(token: string): Promise<ApiToken | null> {
    const m = TOKEN.exec(token);
    if (!m) return null;
    const raw = await this.redis.hget(this.keys.tokens, m[1]);
    if (!raw) return null;
    const rec = JSON.parse(raw) as StoredToken;
    const a = Buffer.from(rec.hash, 'hex');
    const b = Buffer.from(sha256(m[2]), 'hex');
    if (a.length !== b.length || !timingSafeEqual(a, b) || rec.revokedAt) return null;
    return publicView(rec);
  }

  async list(): Promise<ApiToken[]> {
    return (await this.redis.hvals(this.keys.tokens))
      .map((s) => publicView(JSON.parse(s) as StoredToken))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async revoke(id: string): Promise<ApiToken | null> {
    const raw = await this.redis.hget(this.keys.tokens, id);
    if (!raw) return null;
    const rec = { ...(JSON.parse(raw) as StoredToken), revokedAt: new Date().toISOString() };
    await this.redis.hset(this.keys.tokens, id, JSON.stringify(rec));
    return publicView(rec);
  }

  async count(): Promise<number> {
    return this.redis.hlen(this.keys.tokens);
  }
}

function publicView(r: StoredToken): ApiToken {
  const { hash: _hash, ...rest } = r;
  return rest;
}
