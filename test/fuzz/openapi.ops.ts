/** The operations of the API's OpenAPI document, as the fuzz suite needs them. */

export interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  minimum?: number;
  maximum?: number;
  maxLength?: number;
  items?: JsonSchema;
  additionalProperties?: boolean | JsonSchema;
  default?: unknown;
}

export interface Operation {
  method: string;
  /** The templated path, `/v1/placements/{id}`. */
  path: string;
  /** `public`, `viewer`, `operator` or `admin`, from `x-ioplane-role`. */
  role: string;
  pathParams: string[];
  query: Array<{ name: string; schema: JsonSchema }>;
  headers: Array<{ name: string; schema: JsonSchema }>;
  /** The JSON body schema when the document declares one. */
  body: JsonSchema | null;
  /** POST, PUT and PATCH may carry a body even when the document names none. */
  takesBody: boolean;
}

interface Doc {
  paths: Record<
    string,
    Record<
      string,
      {
        'x-ioplane-role'?: string;
        parameters?: Array<{ name: string; in: string; schema?: JsonSchema }>;
        requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
      }
    >
  >;
}

export function operations(doc: Doc): Operation[] {
  const ops: Operation[] = [];
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const params = op.parameters ?? [];
      ops.push({
        method: method.toUpperCase(),
        path,
        role: op['x-ioplane-role'] ?? 'MISSING',
        pathParams: [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]),
        query: params.filter((p) => p.in === 'query').map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        headers: params.filter((p) => p.in === 'header').map((p) => ({ name: p.name, schema: p.schema ?? {} })),
        body: op.requestBody?.content?.['application/json']?.schema ?? null,
        takesBody: ['POST', 'PUT', 'PATCH'].includes(method.toUpperCase()),
      });
    }
  }
  return ops;
}

/**
 * A well-formed value for a path parameter that names nothing that exists, so a request reaches
 * the validation of its other parts and can never act on a real object. An unknown parameter
 * gets `x`: still refused (400 or 404), only less precisely.
 */
const ABSENT: Array<[RegExp, string, string]> = [
  [/^\/v1\/placements\//, 'id', 'pl-fuzz-absent'],
  [/^\/v1\/tokens\//, 'id', 'zzzzzzzzzzzz'],
  [/^\/v1\/rebalance\/proposals\//, 'id', 'rb-1-fuzzabsent'],
  [/^\/v1\/jobs\//, 'id', 'fuzz-absent'],
  [/./, 'systemId', 'fuzzabsent'],
  [/./, 'name', 'fuzz-absent'],
];

export function absentValue(path: string, param: string): string {
  return ABSENT.find(([p, name]) => p.test(path) && name === param)?.[2] ?? 'x';
}

/** The path with every parameter filled: `values` where given (already encoded), else an absent one. */
export function concretePath(op: Operation, values: Record<string, string> = {}): string {
  return op.path.replace(/\{([^}]+)\}/g, (_, name: string) => values[name] ?? absentValue(op.path, name));
}

export const label = (op: Operation) => `${op.method} ${op.path}`;
