import type { z } from 'zod';
import { schemaIssue } from '@ioplane/validation';

export type ModuleErrorCode =
  'MODULE_READ' | 'MODULE_YAML' | 'MODULE_INVALID' | 'MODULE_NAME_MISMATCH' | 'MODULE_SOURCE' | 'MODULE_MAP' | 'MODULE_DUPLICATE_NAME';

export interface ModuleIssue {
  /** Dotted path into the manifest, e.g. `vectors.2.expect.verdict`; '' for the whole file. */
  field: string;
  reason: string;
}

/** A module manifest that cannot be used, pointing at the file and field to fix. */
export class ModuleError extends Error {
  override readonly name = 'ModuleError';

  constructor(
    readonly code: ModuleErrorCode,
    /** Repo-relative path when the file lives in the repo, else absolute. */
    readonly file: string,
    readonly field: string,
    readonly reason: string,
    /** Every problem found in the file; the first is the one in `field`/`reason`. */
    readonly issues: ModuleIssue[] = [{ field, reason }],
  ) {
    super(field ? `${file}: ${field}: ${reason}` : `${file}: ${reason}`);
  }
}

/** Turns a zod issue into `field` + a reason a person can act on. */
export function toModuleIssue(issue: z.core.$ZodIssue, raw: unknown): ModuleIssue {
  return schemaIssue(issue, raw);
}
