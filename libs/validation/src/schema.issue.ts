import type { z } from 'zod';

/** One problem in a validated document: the dotted field path and a reason a person can act on. */
export interface SchemaIssue {
  field: string;
  reason: string;
}

function valueAt(root: unknown, p: readonly PropertyKey[]): unknown {
  let cur: unknown = root;
  for (const key of p) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v)}`;
}

/** Turns a zod issue into `field` + a reason a person can act on without reading zod docs. */
export function schemaIssue(issue: z.core.$ZodIssue, raw: unknown): SchemaIssue {
  const field = issue.path.map(String).join('.');
  const got = valueAt(raw, issue.path);
  switch (issue.code) {
    case 'unrecognized_keys':
      return { field: [...issue.path.map(String), issue.keys[0]].join('.'), reason: 'unknown field' };
    case 'invalid_type':
      if (got === undefined) return { field, reason: 'is required' };
      if (issue.expected === 'int') return { field, reason: `must be an integer, got ${describe(got)}` };
      return {
        field,
        reason: `must be ${issue.expected === 'array' || issue.expected === 'object' ? 'an' : 'a'} ${issue.expected}, got ${describe(got)}`,
      };
    case 'invalid_value':
      return { field, reason: `must be one of ${issue.values.map(String).join(', ')}; got ${describe(got)}` };
    case 'too_big': {
      const op = issue.inclusive === false ? '<' : '<=';
      if (issue.origin === 'array') return { field, reason: `must have ${op} ${issue.maximum} items` };
      if (issue.origin === 'string') return { field, reason: `must have ${op} ${issue.maximum} characters` };
      return { field, reason: `must be ${op} ${issue.maximum}` };
    }
    case 'too_small': {
      const op = issue.inclusive === false ? '>' : '>=';
      if (issue.origin === 'array') return { field, reason: `must have ${op} ${issue.minimum} items` };
      if (issue.origin === 'string')
        return { field, reason: issue.minimum === 1 ? 'must not be empty' : `must have ${op} ${issue.minimum} characters` };
      return { field, reason: `must be ${op} ${issue.minimum}` };
    }
    default:
      return { field, reason: issue.message };
  }
}
