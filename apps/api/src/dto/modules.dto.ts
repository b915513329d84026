import { z } from 'zod';
import { listOf, timestamp } from './common.dto';

export const moduleSummary = z.looseObject({ name: z.string(), version: z.string() });
export const moduleList = listOf(moduleSummary);
export const moduleDetail = z.looseObject({
  name: z.string(),
  version: z.string(),
  origin: z.string(),
  digest: z.string().nullable(),
  createdAt: timestamp.nullable(),
});
export const moduleAnalysis = z.looseObject({
  program: z.looseObject({ totalInstructions: z.number() }),
  maps: z.array(z.looseObject({ name: z.string() })),
  verdicts: z.array(z.looseObject({ profileId: z.string(), accepted: z.boolean() })),
  kernel: z.looseObject({}),
});
export const moduleUploaded = z.object({
  name: z.string(),
  version: z.string(),
  origin: z.string(),
  digest: z.string(),
  analysis: z.looseObject({
    instructions: z.number(),
    helpers: z.array(z.string()),
    accepted: z.array(z.looseObject({ profile: z.string() })),
    kernel: z.string(),
    vectors: z.string(),
  }),
});
