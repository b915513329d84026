import type { JsonSchema } from './openapi.ops';

/** A field somewhere in a documented body: its path (array items as index 0) and its schema. */
export interface FieldPath {
  path: Array<string | 0>;
  schema: JsonSchema;
}

/** Every field of a body schema down to `depth` levels, through objects and arrays of objects. */
export function fieldPaths(schema: JsonSchema, depth = 5, at: Array<string | 0> = []): FieldPath[] {
  if (depth === 0) return [];
  const out: FieldPath[] = [];
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    const path = [...at, name];
    out.push({ path, schema: s });
    if (s.properties) out.push(...fieldPaths(s, depth - 1, path));
    if (s.items?.properties) out.push(...fieldPaths(s.items, depth - 1, [...path, 0]));
  }
  return out;
}

/** The smallest body holding `value` at `path`: `{modules: [{traffic: {pps: value}}]}`. */
export function bodyWith(path: Array<string | 0>, value: unknown): unknown {
  return path.reduceRight<unknown>((inner, key) => (key === 0 ? [inner] : { [key]: inner }), value);
}

export const dotted = (path: Array<string | 0>) => path.join('.');
