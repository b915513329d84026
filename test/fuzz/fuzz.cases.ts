import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import {
  anyJson,
  badQueryValue,
  hugeLength,
  invalidUtf8,
  oddHeaderValue,
  longOddText,
  malformedEncoding,
  nestedJson,
  nestingDepth,
  oddText,
  pct,
  unknownName,
  wrongTypeFor,
} from './fuzz.arbitraries';
import { concretePath, JsonSchema, Operation } from './openapi.ops';
import type { RawRequest } from './raw.request';
import type { Expectation } from './rejection.check';
import { bodyWith, dotted, fieldPaths } from './schema.paths';

/** Tokens the suite holds: one per role, and one revoked. */
export interface Tokens {
  viewer: string;
  operator: string;
  admin: string;
  revoked: string;
}

/** A family of requests for one operation: fast-check draws `runs` inputs from `input`. */
export interface Case<T = unknown> {
  kind: string;
  input: fc.Arbitrary<T>;
  runs: number;
  make(v: T): { req: RawRequest; expect: Expectation };
}

const RANK: Record<string, number> = { viewer: 1, operator: 2, admin: 3 };
const json = { 'content-type': 'application/json' };
/** What the string becomes on the server: a lone surrogate is sent as U+FFFD. */
const asSent = (s: string) => Buffer.from(s, 'utf8').toString('utf8');
const withQuery = (path: string, pairs: Array<[string, string]>) => `${path}?${pairs.map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&')}`;
/** Types `make` by its own input; a list of families holds them all as Case. */
const family = <T>(c: Case<T>): Case => c as unknown as Case;
const one = <T>(kind: string, value: T, make: Case<T>['make']): Case => family({ kind, input: fc.constant(value), runs: 1, make });

/** Property names of a documented body schema. */
const props = (s: JsonSchema | null) => Object.keys(s?.properties ?? {});
/** In a JSON body a key travels escaped, lone surrogates included, so it comes back as it was. */
const unknownField = (op: Operation) => unknownName.filter((n) => !props(op.body).includes(n));

export function authCases(op: Operation, t: Tokens): Case[] {
  if (op.role === 'public') return [];
  const base = (authorization: string | null): RawRequest => ({
    method: op.method,
    path: concretePath(op),
    headers: { ...(authorization !== null ? { authorization } : {}), ...(op.takesBody ? json : {}) },
    body: op.takesBody ? '{}' : undefined,
  });
  const unauthorized: Expectation = { statuses: [401], field: 'Authorization' };
  const flipped = `${t.admin.slice(0, -1)}${t.admin.endsWith('A') ? 'B' : 'A'}`;
  const badToken = fc.oneof(
    fc.constantFrom(
      '',
      'Bearer',
      'Bearer ',
      'Bearer  ',
      `Bearer ${flipped}`,
      `Basic ${Buffer.from('admin:admin').toString('base64')}`,
      `Token ${t.admin}`,
      `Bearer ${t.admin.split('_').slice(0, 2).join('_')}`,
      `Bearer ${'a'.repeat(8000)}`,
      `Bearer iop_${'z'.repeat(12)}_x`,
    ),
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 200 }).map((s) => `Bearer ${s}`),
  );
  return [
    one('no token', null, () => ({ req: base(null), expect: unauthorized })),
    one('revoked token', t.revoked, (tok) => ({ req: base(`Bearer ${tok}`), expect: unauthorized })),
    family({ kind: 'bad token', input: badToken, runs: 2, make: (a) => ({ req: base(a), expect: unauthorized }) }),
    // Over Node's 16 KiB of headers: refused by the HTTP parser, before any route, still in the shared body.
    one('token over the header limit', 20_000, (n) => ({ req: base(`Bearer ${'a'.repeat(n)}`), expect: { statuses: [431] } })),
    ...(['viewer', 'operator'] as const)
      .filter((r) => RANK[r] < RANK[op.role])
      .map((r) =>
        one(`weaker role ${r}`, t[r], (tok) => ({ req: base(`Bearer ${tok}`), expect: { statuses: [403], field: 'Authorization' } })),
      ),
  ];
}

export function queryCases(op: Operation, t: Tokens): Case[] {
  const auth = { authorization: `Bearer ${t.admin}` };
  const req = (pairs: Array<[string, string]>): RawRequest => ({
    method: op.method,
    path: withQuery(concretePath(op), pairs),
    headers: auth,
  });
  const declared = op.query.map((q) => q.name);
  return [
    one('query over the header limit', 20_000, (n) => ({ req: req([['zzlong', 'q'.repeat(n)]]), expect: { statuses: [431] } })),
    family({
      kind: 'unknown query parameter',
      input: fc.tuple(
        unknownName.filter((n) => !declared.includes(asSent(n))),
        oddText(20),
      ),
      runs: 2,
      make: ([name, value]) => ({ req: req([[name, value]]), expect: { statuses: [400], field: asSent(name) } }),
    }),
    ...op.query.flatMap((q): Case[] => [
      family({
        kind: `bad value of ${q.name}`,
        input: badQueryValue(q.schema),
        runs: 3,
        make: (v) => ({ req: req([[q.name, v]]), expect: { statuses: [400], field: q.name } }),
      }),
      one(`${q.name} given twice`, q.name, (n) => ({
        req: req([
          [n, 'a'],
          [n, 'b'],
        ]),
        expect: { statuses: [400], field: n },
      })),
    ]),
  ];
}

export function pathCases(op: Operation, t: Tokens): Case[] {
  const auth = { authorization: `Bearer ${t.admin}` };
  const bodyless = { headers: auth };
  return op.pathParams.flatMap((p): Case[] => [
    family({
      kind: `odd ${p}`,
      input: fc.oneof(oddText(60), longOddText),
      runs: 3,
      make: (v) => ({
        req: { method: op.method, path: concretePath(op, { [p]: pct(v) }), ...bodyless },
        expect: { statuses: [400, 404], field: p },
      }),
    }),
    family({
      kind: `malformed encoding in ${p}`,
      input: malformedEncoding,
      runs: 2,
      make: (v) => ({
        req: { method: op.method, path: concretePath(op, { [p]: `a${v}` }), ...bodyless },
        expect: { statuses: [400], field: [p, 'path'] },
      }),
    }),
  ]);
}

export function bodyCases(op: Operation, t: Tokens): Case[] {
  if (!op.takesBody) return [];
  const headers = { authorization: `Bearer ${t.admin}`, ...json };
  const send = (body: string | Buffer): RawRequest => ({ method: op.method, path: concretePath(op), headers, body });
  /** Documented bodies must name what is wrong; an undocumented one need only be refused. */
  const naming = (field: Expectation['field'], statuses = [400]): Expectation => (op.body ? { statuses, field } : {});
  const schema = op.body;
  const cases: Case[] = [
    family({
      kind: 'body of the wrong JSON type',
      input: fc.oneof(
        fc.constantFrom('[]', '[{}]', '1', '-0', '"{}"', 'true', 'null', '1e999'),
        fc.array(anyJson, { maxLength: 3 }).map((a) => JSON.stringify(a)),
      ),
      runs: 3,
      make: (b) => ({ req: send(b), expect: naming('body') }),
    }),
    family({
      kind: 'unknown field',
      input: fc.tuple(unknownField(op), anyJson),
      runs: 3,
      make: ([k, v]) => ({ req: send(JSON.stringify({ [k]: v })), expect: naming(k) }),
    }),
    family({
      kind: 'huge string beside an unknown field',
      input: fc.tuple(unknownField(op), hugeLength, fc.option(fc.constantFrom(...props(schema), 'x'), { nil: undefined })),
      runs: 2,
      make: ([k, n, p]) => ({
        req: send(JSON.stringify({ [k]: 'x'.repeat(n), ...(p ? { [p]: 'y'.repeat(n) } : {}) })),
        expect: naming((f) => f === k || (p !== undefined && f.startsWith(p))),
      }),
    }),
    family({
      kind: 'deep nesting',
      input: fc.tuple(unknownField(op), nestingDepth, fc.boolean()),
      runs: 2,
      make: ([k, nesting, top]) => ({
        req: send(top ? nestedJson(nesting) : `{${JSON.stringify(k)}:${nestedJson(nesting)}}`),
        expect: naming(!top ? k : nesting.arrays ? 'body' : 'd'),
      }),
    }),
    family({
      kind: 'invalid UTF-8',
      input: fc.tuple(unknownField(op), invalidUtf8, fc.boolean()),
      runs: 2,
      make: ([k, bytes, inKey]) => {
        const body = inKey
          ? Buffer.concat([Buffer.from('{"'), bytes, Buffer.from('":1}')])
          : Buffer.concat([Buffer.from(`{${JSON.stringify(k)}:"`), bytes, Buffer.from('"}')]);
        // The parser reads invalid bytes as U+FFFD, so the key is still named, replaced.
        return { req: send(body), expect: naming(inKey ? (f) => f.includes('\ufffd') : k) };
      },
    }),
  ];
  if (!schema) return cases;
  const required = schema.required ?? [];
  if (required.length)
    cases.push(one('required fields missing', '{}', (b) => ({ req: send(b), expect: { statuses: [400], field: required } })));
  const typed = fieldPaths(schema).flatMap(({ path, schema: s }) => {
    const wrong = wrongTypeFor(s);
    return wrong ? [{ path, wrong }] : [];
  });
  const judged = (path: Array<string | 0>) => {
    const p = dotted(path);
    return (f: string) => f === p || f.startsWith(`${p}.`);
  };
  // Alone in its branch, a field is still judged: siblings missing are further issues, not instead of it.
  for (const { path, wrong } of typed.filter((f) => f.path.length === 1)) {
    cases.push(
      family({
        kind: `${dotted(path)} of the wrong type`,
        input: wrong,
        runs: 2,
        make: (v) => ({ req: send(JSON.stringify(bodyWith(path, v))), expect: { statuses: [400], field: judged(path) } }),
      }),
    );
  }
  // Nested fields are many: a few per run, drawn by the seed, all of them over runs.
  const nested = typed.filter((f) => f.path.length > 1);
  if (nested.length) {
    cases.push(
      family({
        kind: 'a nested field of the wrong type',
        input: fc.nat({ max: nested.length - 1 }).chain((i) => nested[i].wrong.map((v) => ({ path: nested[i].path, v }))),
        runs: Math.min(nested.length, 8),
        make: ({ path, v }) => ({ req: send(JSON.stringify(bodyWith(path, v))), expect: { statuses: [400], field: judged(path) } }),
      }),
    );
  }
  return cases;
}

/**
 * Bodies that are not JSON, or JSON in a form the parser must not take. Those sent with a
 * non-JSON type carry `{}`, which many routes would accept: only the type may refuse them.
 */
export function contentTypeCases(op: Operation, t: Tokens): Case[] {
  if (!op.takesBody) return [];
  const auth = { authorization: `Bearer ${t.admin}` };
  const bad = JSON.stringify({ zzfuzzUnknown: 1 });
  const refused: Expectation = { statuses: [400, 415], field: ['Content-Type', 'body'] };
  const byField: Expectation = op.body ? { statuses: [400], field: 'zzfuzzUnknown' } : {};
  const table: Array<[string, Record<string, string>, string | Buffer, Expectation]> = [
    ['text/plain', { 'content-type': 'text/plain' }, '{}', refused],
    ['no content type', {}, '{}', refused],
    ['application/xml', { 'content-type': 'application/xml' }, '<a/>', refused],
    ['form-urlencoded', { 'content-type': 'application/x-www-form-urlencoded' }, 'systemIds=abc&note=x', refused],
    [
      'multipart',
      { 'content-type': 'multipart/form-data; boundary=zz' },
      '--zz\r\nContent-Disposition: form-data; name="a"\r\n\r\n{}\r\n--zz--\r\n',
      refused,
    ],
    ['text/json', { 'content-type': 'text/json' }, '{}', refused],
    ['a JSON look-alike type', { 'content-type': 'application/vnd.api+json' }, '{}', refused],
    ['UTF-16 charset', { 'content-type': 'application/json; charset=utf-16' }, '{}', refused],
    ['latin1 charset', { 'content-type': 'application/json; charset=latin1' }, '{}', refused],
    ['an extra media type parameter', { 'content-type': 'application/json; charset=utf-8; x=1' }, '{}', refused],
    ['garbage gzip', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, '{}', refused],
    ['an unknown content encoding', { 'content-type': 'application/json', 'content-encoding': 'zz-bogus' }, '{}', refused],
    ['upper-case JSON type, bad body', { 'content-type': 'APPLICATION/JSON' }, bad, byField],
    ['quoted UTF-8 charset, bad body', { 'content-type': 'application/json; charset="UTF-8"' }, bad, byField],
    ['gzip of a bad body', { 'content-type': 'application/json', 'content-encoding': 'gzip' }, gzipSync(bad), byField],
  ];
  return table.map(([kind, headers, body, expect]) =>
    one(kind, body, (b) => ({ req: { method: op.method, path: concretePath(op), headers: { ...auth, ...headers }, body: b }, expect })),
  );
}

/** Methods a documented path does not declare: no route answers them, and the answer is still the shared body. */
export function methodCases(all: Operation[]): (op: Operation, t: Tokens) => Case[] {
  return (op, t) => {
    const declared = new Set(all.filter((o) => o.path === op.path).map((o) => o.method));
    // Once per path: the first operation declared for it carries the cases.
    if (all.find((o) => o.path === op.path) !== op) return [];
    return ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']
      .filter((m) => !declared.has(m))
      .map((m) =>
        one(`undeclared method ${m}`, m, (method) => ({
          req: { method, path: concretePath(op), headers: { authorization: `Bearer ${t.admin}`, ...json }, body: '{}' },
          expect: { statuses: [404, 405] },
        })),
      );
  };
}

/** Documented request headers with values they cannot take, named even when the body is wrong too. */
export function headerCases(op: Operation, t: Tokens): Case[] {
  return op.headers.map((hd) =>
    family({
      kind: `odd ${hd.name}`,
      input: oddHeaderValue,
      runs: 3,
      make: (v: string) => ({
        req: {
          method: op.method,
          path: concretePath(op),
          headers: { authorization: `Bearer ${t.admin}`, [hd.name]: v, ...(op.takesBody ? json : {}) },
          body: op.takesBody ? '{}' : undefined,
        },
        expect: { statuses: [400], field: hd.name },
      }),
    }),
  );
}
