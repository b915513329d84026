import { z } from 'zod';
import { ROLES } from '@ioplane/state';
import { listOf, timestamp } from './common.dto';

export const apiToken = z.object({
  id: z.string(),
  name: z.string(),
  role: z.enum(ROLES),
  createdAt: timestamp,
  createdBy: z.string().nullable(),
  revokedAt: timestamp.nullable(),
});
/** The secret appears here once; only its hash is kept. */
export const createdToken = apiToken.extend({ token: z.string() });
export const tokenList = listOf(apiToken);
export const auditList = listOf(
  z.object({
    at: timestamp,
    tokenId: z.string().nullable(),
    tokenName: z.string().nullable(),
    role: z.enum(ROLES).nullable(),
    method: z.string(),
    path: z.string(),
    status: z.int(),
    result: z.enum(['ok', 'refused', 'error']),
  }),
);
