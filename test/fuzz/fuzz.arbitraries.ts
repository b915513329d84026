import fc from 'fast-check';
import type { JsonSchema } from './openapi.ops';

/** Percent-encodes every byte of the UTF-8 form but the unreserved ones (a lone surrogate becomes U+FFFD). */
export function pct(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8'))
    out += /[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return out;
}

/** Characters no identifier of the API accepts: at least one is in every odd string. */
const ODD = [
  ' ',
  '/',
  '\\',
  '%',
  '\0',
  '\n',
  '\r',
  '<',
  '>',
  '"',
  "'",
  '`',
  ';',
  '$',
  '{',
  '}',
  '|',
  '*',
  '?',
  '#',
  '&',
  '=',
  '+',
  ',',
  ':',
  '@',
  'é',
  'İ',
  '😀',
  '\u202e',
  '\ufeff',
  '\u0085',
  '\ud800',
  '\u2028',
];

export const oddText = (maxLength = 60) =>
  fc
    .tuple(fc.string({ unit: 'binary', maxLength }), fc.constantFrom(...ODD), fc.string({ unit: 'grapheme-ascii', maxLength }))
    .map(([a, odd, b]) => `${a}${odd}${b}`);

/** Long odd strings stay under the HTTP server's 16 KiB header limit: a URL over it never reaches the API. */
export const longOddText = fc
  .integer({ min: 300, max: 1500 })
  .chain((n) => fc.constantFrom('a', 'é', '%', '/').map((c) => `${c.repeat(n)}<`));

/** Malformed percent-encodings and invalid UTF-8 bytes, spelled in the URL. */
export const malformedEncoding = fc.constantFrom('%', '%Z', '%ZZ', '%%', '%E0%A4', '%FF', '%C0%AF', '%ED%A0%80', '%F8%88%80%80%80', '%00%');

/** Query parameter names that no endpoint declares, prototype names included. */
export const unknownName = fc.oneof(
  fc.stringMatching(/^[a-z][A-Za-z0-9_]{0,15}$/).map((s) => `zz${s}`),
  fc.constantFrom(
    '__proto__',
    'constructor',
    'prototype',
    'toString',
    'hasOwnProperty',
    'valueOf',
    'a[b]',
    'x[]',
    'a.b',
    'ZONE',
    'Limit',
    ' zone',
    'zone ',
  ),
  oddText(12).filter((s) => s.length > 0),
);

/** Any JSON value, nested a little. */
export const anyJson = fc.jsonValue({ maxDepth: 3 });

/**
 * Deep nesting as JSON text, `depth` levels of arrays or objects. Drawn as a number and spelled
 * late, so a failure report shows the depth rather than the value.
 */
export const nestingDepth = fc.record({ depth: fc.integer({ min: 50, max: 5000 }), arrays: fc.boolean() });
export const nestedJson = ({ depth, arrays }: { depth: number; arrays: boolean }) =>
  arrays ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"d":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** The length of a huge string, spelled late for the same reason. */
export const hugeLength = fc.integer({ min: 100_000, max: 1_000_000 });

/** Bytes that are not UTF-8: lone continuation bytes, overlong forms, encoded surrogates, 0xFF. */
export const invalidUtf8 = fc
  .constantFrom([0xff], [0xfe, 0xff], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc3])
  .map((b) => Buffer.from(b));

/** A value whose JSON type differs from the one `schema` asks for. */
export function wrongTypeFor(schema: JsonSchema): fc.Arbitrary<unknown> | null {
  const byType: Record<string, fc.Arbitrary<unknown>> = {
    string: fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }), fc.constant({})),
    number: fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.constant([]), fc.constant({})),
    integer: fc.oneof(fc.string(), fc.boolean(), fc.constant(null), fc.constant(1.5), fc.constant([]), fc.constant({})),
    boolean: fc.oneof(fc.constantFrom('true', 'false', 1, 0, null, [], {})),
    array: fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant({ 0: 'a' })),
    object: fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null), fc.constant([])),
  };
  if (schema.enum) return fc.oneof(fc.constant(`not-${String(schema.enum[0])}`), fc.integer(), fc.constant(null));
  return schema.type ? (byType[schema.type] ?? null) : null;
}

/** A query value no declared parameter of this schema accepts (strings are sent as they are). */
export function badQueryValue(schema: JsonSchema): fc.Arbitrary<string> {
  if (schema.type === 'integer' || schema.type === 'number') {
    const over = schema.maximum !== undefined ? [String(schema.maximum + 1)] : [];
    const under = schema.minimum !== undefined ? [String(schema.minimum - 1)] : [];
    const fraction = schema.type === 'integer' ? ['1.5'] : [];
    return fc.constantFrom('abc', 'NaN', 'Infinity', '-Infinity', '1e400', '1,2', '0x', ...fraction, ...over, ...under);
  }
  return fc.oneof(oddText(40), longOddText);
}

/** Header values no identifier-like header accepts; an odd character inside, since ends are trimmed. */
export const oddHeaderValue = fc.oneof(
  fc
    .tuple(
      fc.stringMatching(/^[A-Za-z0-9]{1,20}$/),
      fc.constantFrom(...'!"#$%&\'()*+,/:;<=>?@[\\]^`{|}~ \u00e9\u00ff'),
      fc.stringMatching(/^[A-Za-z0-9]{1,20}$/),
    )
    .map(([a, o, b]) => `${a}${o}${b}`),
  fc.constantFrom('', 'a', 'x'.repeat(4000)),
);
