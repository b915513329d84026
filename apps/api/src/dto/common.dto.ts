import { z } from 'zod';

/** An ISO-8601 timestamp as the API writes them. */
export const timestamp = z.string().describe('ISO-8601 time');

/** `{ count, items }`: every list the API answers. */
export function listOf<T extends z.ZodType>(item: T) {
  return z.object({ count: z.int().min(0), items: z.array(item) });
}

/** A queued job the caller can follow with GET /v1/jobs/{id}. */
export const queuedJob = z.object({ jobId: z.string(), queue: z.string(), name: z.string() });
