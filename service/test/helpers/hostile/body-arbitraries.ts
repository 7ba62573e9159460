import fc from 'fast-check';
import { anyText, byte, hostileByte, printable } from './header-arbitraries.ts';
import type { BodyPlan } from './plans.ts';

// Bodies for the hostile requests (plans.ts): JSON and urlencoded, malformed in every way.

/** Credentials-shaped JSON with wrong types, odd strings and huge strings mixed in. */
const jsonField = (good: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 4, arbitrary: good },
    { weight: 3, arbitrary: anyText(40) },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }),
        fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: 250, max: 6_000 }).map((n) => 'x'.repeat(n)) },
  );

/** A JSON body plan for the given field names (login/register or password change). */
export function jsonBodyPlan(
  fields: [string, string],
  good: [fc.Arbitrary<string>, fc.Arbitrary<string>],
): fc.Arbitrary<BodyPlan> {
  const [a, b] = fields;
  const shaped = fc
    .record({ [a]: jsonField(good[0]), [b]: jsonField(good[1]) }, { requiredKeys: [] })
    .chain((obj) =>
      fc
        .dictionary(
          fc.constantFrom('__proto__', 'constructor', 'prototype', 'extra', 'toString'),
          fc.jsonValue({ maxDepth: 2 }),
          { maxKeys: 2 },
        )
        .map((extra) => ({ ...extra, ...obj })),
    )
    .map((value) => ({ kind: 'json-value' as const, value }));
  const malformed = fc.oneof(
    fc.constantFrom(
      '{',
      '}',
      '{"',
      '{"username":}',
      '{"username":"a",}',
      '[1,]',
      'NaN',
      '{"a":undefined}',
      "{'a':1}",
      '\ufeff{}',
      '/*x*/{}',
      'null',
      '0',
      '"str"',
      'true',
      '[]',
      '{}',
      '{"__proto__":{"polluted":1}}',
    ),
    fc
      .jsonValue()
      .map((v) => JSON.stringify(v) ?? 'null')
      .chain((json) => fc.nat({ max: Math.max(0, json.length - 1) }).map((cut) => json.slice(0, cut))),
    anyText(60),
  );
  return fc.oneof(
    { weight: 8, arbitrary: shaped },
    { weight: 3, arbitrary: malformed.map((text) => ({ kind: 'text' as const, text })) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((value) => ({ kind: 'json-value' as const, value })) },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.oneof(hostileByte, byte), { minLength: 1, maxLength: 64 })
        .map((bytes) => ({ kind: 'bytes' as const, bytes })),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        kind: fc.constant('nested' as const),
        depth: fc.integer({ min: 50, max: 9_000 }),
        shape: fc.constantFrom('array' as const, 'object' as const, 'username' as const),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('huge-field' as const),
        field: fc.constantFrom(a, b),
        char: fc.constantFrom('a', 'é', '\u0000', '😀', '\\'),
        length: fc.integer({ min: 1_000, max: 40_000 }),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.tuple(printable(10), printable(10)).map(([x, y]) => ({
        kind: 'duplicate-keys' as const,
        json: `{"${a}":${JSON.stringify(x)},"${a}":${JSON.stringify(y)},"${b}":"p","${b}":${JSON.stringify(y)}}`,
      })),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
  );
}

/** An urlencoded form body: duplicate and missing fields, bad escapes, too many or too big. */
export function formBodyPlan(good: [fc.Arbitrary<string>, fc.Arbitrary<string>]): fc.Arbitrary<BodyPlan> {
  const value = (g: fc.Arbitrary<string>) =>
    fc.oneof(
      { weight: 3, arbitrary: g.map(encodeURIComponent) },
      { weight: 1, arbitrary: fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%AF', '%00', '%FF%FE', '+', '') },
      { weight: 1, arbitrary: printable(30) },
    );
  const pair = fc.oneof(
    value(good[0]).map((v) => `username=${v}`),
    value(good[1]).map((v) => `password=${v}`),
    fc.constantFrom(
      'username',
      'password=',
      '=x',
      '&',
      'username[]=a',
      'username[0]=a',
      '__proto__=x',
      'constructor=x',
    ),
    fc.tuple(printable(10), printable(20)).map(([k, v]) => `${encodeURIComponent(k)}=${v}`),
  );
  return fc.oneof(
    {
      weight: 8,
      arbitrary: fc
        .array(pair, { minLength: 0, maxLength: 14 })
        .map((pairs) => ({ kind: 'form' as const, text: pairs.join('&') })),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 5_000, max: 20_000 })
        .map((n) => ({ kind: 'form' as const, text: `username=${'a'.repeat(n)}&password=x` })),
    },
    {
      weight: 1,
      arbitrary: fc
        .array(fc.oneof(hostileByte, byte), { minLength: 1, maxLength: 64 })
        .map((bytes) => ({ kind: 'bytes' as const, bytes })),
    },
    { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
  );
}

export const JSON_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=UTF-16',
  'application/json; charset=latin1',
  'application/json; charset=utf-7',
  'application/json; charset="',
  'application/json;;;',
  'application/json; boundary',
  'APPLICATION/JSON',
  'application/json, text/plain',
  'application/vnd.api+json',
  'application/',
  '*/*',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
];
export const FORM_TYPES = [
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'application/x-www-form-urlencoded; charset=latin1',
  'application/x-www-form-urlencoded; charset=nope',
  'application/x-www-form-urlencoded; charset="',
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=x',
];

export const contentEncoding = fc.oneof(
  { weight: 12, arbitrary: fc.constant(undefined) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown', 'gzip, gzip', 'GZIP', 'gzip-valid'),
  },
);
