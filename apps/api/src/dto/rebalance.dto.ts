import { z } from 'zod';
import { listOf, timestamp } from './common.dto';

export const proposal = z.looseObject({
  id: z.string(),
  createdAt: timestamp,
  status: z.enum(['pending', 'submitted', 'rejected', 'dropped', 'failed']),
  systemId: z.string(),
  hostname: z.string(),
  mode: z.string(),
  moves: z.array(z.looseObject({ module: z.string() })),
  placementId: z.string().nullable(),
  decidedAt: timestamp.nullable(),
  decidedBy: z.enum(['auto', 'operator', 'rebalancer']).nullable(),
});
export const proposalList = listOf(proposal);
export const approved = z.object({ id: z.string(), status: z.string(), placementId: z.string() });
export const rejected = z.object({ id: z.string(), status: z.string() });
