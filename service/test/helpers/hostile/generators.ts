import fc from 'fast-check';
import { COOKIE_NAMES } from '../../../src/config/config.ts';

const SESSION = COOKIE_NAMES.session.secure;

/**
 * Hostile HTTP requests for the fuzz suite (test/http/hostile-input.test.ts), in three parts:
 *   generators.ts       fast-check arbitraries that produce plain-data *plans* (printable,
 *                       shrinkable, reproducible from a seed);
 *   request-builder.ts  a plan plus run-time facts (the live session cookie, a handle) -> bytes;
 *   raw-http.ts         those bytes over a TCP socket, and the answer parsed by hand.
 * Node's own http client refuses NUL, control characters and invalid UTF-8 in headers, so every
 * request goes out as raw bytes.
 */

export type BodyKind = 'credentials' | 'password-change' | 'form' | 'none';

export type CookiePlan =
  | { kind: 'none' }
  | { kind: 'live' }
  /** Random value, with or without the `s:` signed prefix. */
  | { kind: 'forged'; value: string }
  /** The live cookie cut short (keep < 1 of its characters). */
  | { kind: 'truncated'; keep: number }
  /** The live cookie with one character replaced. */
  | { kind: 'tampered'; at: number; char: string }
  /** The live session id, signed with a random (wrong) secret. */
  | { kind: 'resigned'; secret: string }
  /** A garbage session id signed with the real secret: exercises the store lookup. */
  | { kind: 'signed-garbage-id'; id: string }
  /** A correctly signed cookie whose session was logged out. */
  | { kind: 'logged-out'; index: number }
  /** A correctly signed cookie whose user was deleted. */
  | { kind: 'removed-user' }
  /** The session cookie name twice, in either order. */
  | { kind: 'duplicate'; first: SimpleCookie; second: SimpleCookie }
  /** A raw Cookie header with odd syntax. */
  | { kind: 'raw'; header: string };

type SimpleCookie = Extract<CookiePlan, { kind: 'none' | 'live' | 'forged' | 'resigned' | 'logged-out' }>;

export type HeaderAttack =
  /** A header whose value holds arbitrary bytes: NUL, control characters, invalid UTF-8. */
  | { kind: 'bytes'; name: string; value: number[] }
  /** A printable but nonsensical value for a header the service reads. */
  | { kind: 'junk'; name: string; value: string }
  /** A header name with bytes a token may not hold. */
  | { kind: 'bad-name'; name: number[] }
  /** An obs-fold continuation line (forbidden since RFC 7230). */
  | { kind: 'fold'; value: string }
  /** One very large header value. */
  | { kind: 'huge'; name: string; size: number }
  /** Many headers. */
  | { kind: 'many'; count: number }
  /** A header the service reads, sent several times with different values. */
  | { kind: 'duplicate'; name: string; values: string[] };

export type FramingAttack =
  | { kind: 'none' }
  | { kind: 'version'; version: string }
  | { kind: 'bare-lf' }
  | { kind: 'cl-and-te' }
  | { kind: 'bad-chunk' }
  | { kind: 'short-body'; missing: number }
  | { kind: 'trailing-garbage'; bytes: number[] };

export type BodyPlan =
  | { kind: 'empty' }
  | { kind: 'json-value'; value: unknown }
  | { kind: 'text'; text: string }
  | { kind: 'bytes'; bytes: number[] }
  | { kind: 'nested'; depth: number; shape: 'array' | 'object' | 'username' }
  | { kind: 'huge-field'; field: string; char: string; length: number }
  | { kind: 'duplicate-keys'; json: string }
  | { kind: 'form'; text: string };

export interface HostilePlan {
  method: string;
  /** Path template with `:id` placeholders, or an already hostile path. */
  path: PathPlan;
  query: string;
  cookie: CookiePlan;
  headers: HeaderAttack[];
  contentType: string | undefined;
  contentEncoding: string | undefined;
  body: BodyPlan;
  framing: FramingAttack;
}

export type PathPlan =
  | { kind: 'exact' }
  | { kind: 'variant'; variant: 'trailing-slash' | 'upper' | 'double-slash' | 'encoded' | 'dot-segment' }
  | { kind: 'id'; id: IdPlan }
  | { kind: 'raw'; path: string };

export type IdPlan = { kind: 'text'; text: string } | { kind: 'own-handle' } | { kind: 'huge'; length: number };

// ---------------------------------------------------------------------------------------
// Arbitraries

/**
 * Placeholders the arbitraries put where the real username / password belong; buildRequest
 * substitutes the run's values, so plans stay plain data and reproduce from the seed.
 */
export const MARK = { user: '\u27e6user\u27e7', password: '\u27e6password\u27e7' } as const;

/** Username-ish values: the endpoint user (also case-folded), unknown names, look-alikes. */
export const goodUsername: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constant(MARK.user) },
  { weight: 1, arbitrary: fc.constant(MARK.user.toUpperCase()) },
  { weight: 3, arbitrary: fc.stringMatching(/^[a-z][a-z0-9._@-]{2,20}$/) },
);
/** Password-ish values: the endpoint user's, or random ones long enough to pass the policy. */
export const goodPassword: fc.Arbitrary<string> = fc.oneof(
  { weight: 1, arbitrary: fc.constant(MARK.password) },
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9 !?]{12,30}$/) },
);

const byte = fc.integer({ min: 0, max: 255 });
/** Bytes that are illegal or suspicious in a header value: NUL, CTLs, DEL, high bytes. */
const hostileByte = fc.oneof(
  fc.constantFrom(0x00, 0x0a, 0x0d, 0x7f, 0x80, 0xc0, 0xc3, 0xff, 0xfe, 0xed),
  fc.integer({ min: 0x00, max: 0x1f }),
  fc.integer({ min: 0x80, max: 0xff }),
);
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));
/** Strings with anything a JSON string can carry: NUL, controls, lone surrogates, astral. */
export const anyText = (maxLength = 40) =>
  fc.oneof(
    fc.string({ maxLength }),
    fc.string({ unit: 'binary', maxLength }),
    fc.string({ unit: fc.oneof(loneSurrogate, fc.constantFrom('\u0000', '\u001f', '\u202e', '\ufeff', '\u0130', 'Ａ', '😀')), maxLength }),
  );
// Control characters are exactly what this strips, so the regex names them.
// eslint-disable-next-line no-control-regex
const printable = (maxLength = 40) => fc.string({ unit: 'binary-ascii', maxLength }).map((s) => s.replace(/[\x00-\x1f\x7f]/g, ''));

/** Headers this service reads somewhere (or the edge relies on). */
const READ_HEADERS = [
  'Cookie',
  'Content-Type',
  'Content-Length',
  'Content-Encoding',
  'X-Forwarded-For',
  'X-Forwarded-Proto',
  'X-Forwarded-Host',
  'X-Request-Id',
  'Origin',
  'Sec-Fetch-Site',
  'User-Agent',
  'Authorization',
  'If-None-Match',
  'Accept',
  'Accept-Encoding',
  'Host',
  'Range',
  'Expect',
];
const headerName = fc.oneof(fc.constantFrom(...READ_HEADERS), fc.stringMatching(/^X-[A-Za-z0-9-]{1,20}$/));

const junkValues: Record<string, string[]> = {
  'X-Forwarded-For': ['', ',,,', 'unknown', '::ffff:999.1.1.1', '1.2.3.4, ', ' , 10.0.0.1', '[::1]:80', '127.0.0.1, 127.0.0.1, 127.0.0.1', 'a'.repeat(300)],
  'X-Forwarded-Proto': ['http', 'https, http', 'HTTPS', 'gopher', ''],
  'X-Request-Id': ['', 'a b', '../../etc', '<script>', 'x'.repeat(200), '\u00e9'],
  Origin: ['null', 'https://evil.example', 'https://auth.example.test.evil', 'https://auth.example.test/', ''],
  'Sec-Fetch-Site': ['cross-site', 'same-site', 'none', 'same-origin, cross-site', ''],
  'Content-Length': ['-1', '1e3', '0x10', ' 5', '99999999999999999999', ''],
  Authorization: ['Bearer', 'Bearer ', 'Bearer \t', 'Basic Og==', 'bearer x'.repeat(50)],
  'If-None-Match': ['*', 'W/"x"', '"', ''],
  Range: ['bytes=0-0', 'bytes=-1', 'bytes=5-1', 'bytes=0-1,2-3,4-5'],
  Expect: ['100-continue', 'foo'],
  Host: ['', 'evil.example', 'a:b:c', '[::1', 'x'.repeat(300)],
};
const junkHeader = fc
  .constantFrom(...Object.keys(junkValues))
  .chain((name) => fc.oneof(fc.constantFrom(...junkValues[name]!), printable(60)).map((value) => ({ kind: 'junk' as const, name, value })));

export const headerAttack: fc.Arbitrary<HeaderAttack> = fc.oneof(
  // Invalid UTF-8 (high bytes) reaches the app; NUL and other CTLs are refused by Node's parser.
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('bytes' as const),
      name: headerName,
      value: fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 24 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('bytes' as const),
      name: headerName,
      value: fc.array(fc.oneof(hostileByte, byte), { minLength: 1, maxLength: 24 }),
    }),
  },
  { weight: 4, arbitrary: junkHeader },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('bad-name' as const),
      name: fc.array(fc.oneof(hostileByte, fc.constantFrom(0x20, 0x22, 0x28, 0x3a, 0x40)), { minLength: 1, maxLength: 8 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fold' as const), value: printable(20) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('huge' as const), name: headerName, size: fc.integer({ min: 4_000, max: 40_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('many' as const), count: fc.integer({ min: 50, max: 400 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('duplicate' as const),
      name: fc.constantFrom(
        'Host',
        'Content-Type',
        'X-Forwarded-For',
        'X-Forwarded-Proto',
        'Origin',
        'Sec-Fetch-Site',
        'Authorization',
        'X-Request-Id',
        'User-Agent',
      ),
      values: fc.array(printable(30), { minLength: 2, maxLength: 4 }),
    }),
  },
);

export const framingAttack: fc.Arbitrary<FramingAttack> = fc.oneof(
  { weight: 50, arbitrary: fc.constant({ kind: 'none' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('version' as const),
      version: fc.constantFrom('HTTP/1.0', 'HTTP/0.9', 'HTTP/2.0', 'HTTP/9.9', 'HTTP/1.1x', 'http/1.1', ''),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'bare-lf' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'cl-and-te' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'bad-chunk' as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('short-body' as const), missing: fc.integer({ min: 1, max: 50 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('trailing-garbage' as const), bytes: fc.array(byte, { minLength: 1, maxLength: 40 }) }) },
);

const simpleCookie: fc.Arbitrary<SimpleCookie> = fc.oneof(
  fc.constant({ kind: 'none' as const }),
  fc.constant({ kind: 'live' as const }),
  fc.record({ kind: fc.constant('forged' as const), value: printable(60) }),
  fc.record({ kind: fc.constant('resigned' as const), secret: fc.string({ minLength: 1, maxLength: 40 }) }),
  fc.record({ kind: fc.constant('logged-out' as const), index: fc.nat() }),
);

export const cookiePlan: fc.Arbitrary<CookiePlan> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 10, arbitrary: fc.constant({ kind: 'live' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('forged' as const),
      value: fc.oneof(
        printable(80),
        printable(80).map((s) => `s:${s}`),
        fc.string({ unit: 'binary', maxLength: 30 }).map((s) => `s:${encodeURIComponent(s)}.${s.length}`),
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncated' as const), keep: fc.double({ min: 0, max: 0.99, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('tampered' as const), at: fc.nat(), char: fc.constantFrom('A', 'z', '0', '-', '_', '.', '%', '=') }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('resigned' as const), secret: fc.string({ minLength: 1, maxLength: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('signed-garbage-id' as const), id: anyText(80) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('logged-out' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'removed-user' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), first: simpleCookie, second: simpleCookie }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('raw' as const),
      header: fc.oneof(
        fc.constantFrom(
          SESSION,
          `${SESSION}=`,
          `=${SESSION}`,
          `${SESSION}=%`,
          `${SESSION}=%E0%A4%A`,
          `${SESSION.toLowerCase()}=s%3Ax.y`,
          ';;;',
          `${SESSION}="s:`,
          'sid=s%3Aabc.def',
        ),
        printable(200),
        fc.array(fc.tuple(printable(12), printable(40)), { maxLength: 60 }).map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('; ')),
      ),
    }),
  },
);

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
export function jsonBodyPlan(fields: [string, string], good: [fc.Arbitrary<string>, fc.Arbitrary<string>]): fc.Arbitrary<BodyPlan> {
  const [a, b] = fields;
  const shaped = fc
    .record({ [a]: jsonField(good[0]), [b]: jsonField(good[1]) }, { requiredKeys: [] })
    .chain((obj) =>
      fc
        .dictionary(fc.constantFrom('__proto__', 'constructor', 'prototype', 'extra', 'toString'), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 2 })
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
    { weight: 1, arbitrary: fc.array(fc.oneof(hostileByte, byte), { minLength: 1, maxLength: 64 }).map((bytes) => ({ kind: 'bytes' as const, bytes })) },
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
    fc.constantFrom('username', 'password=', '=x', '&', 'username[]=a', 'username[0]=a', '__proto__=x', 'constructor=x'),
    fc.tuple(printable(10), printable(20)).map(([k, v]) => `${encodeURIComponent(k)}=${v}`),
  );
  return fc.oneof(
    { weight: 8, arbitrary: fc.array(pair, { minLength: 0, maxLength: 14 }).map((pairs) => ({ kind: 'form' as const, text: pairs.join('&') })) },
    { weight: 1, arbitrary: fc.integer({ min: 5_000, max: 20_000 }).map((n) => ({ kind: 'form' as const, text: `username=${'a'.repeat(n)}&password=x` })) },
    { weight: 1, arbitrary: fc.array(fc.oneof(hostileByte, byte), { minLength: 1, maxLength: 64 }).map((bytes) => ({ kind: 'bytes' as const, bytes })) },
    { weight: 1, arbitrary: fc.constant({ kind: 'empty' as const }) },
  );
}

const JSON_TYPES = [
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
const FORM_TYPES = [
  'application/x-www-form-urlencoded',
  'application/x-www-form-urlencoded; charset=utf-8',
  'application/x-www-form-urlencoded; charset=latin1',
  'application/x-www-form-urlencoded; charset=nope',
  'application/x-www-form-urlencoded; charset="',
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=x',
];

const contentEncoding = fc.oneof(
  { weight: 12, arbitrary: fc.constant(undefined) },
  { weight: 1, arbitrary: fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x-unknown', 'gzip, gzip', 'GZIP', 'gzip-valid') },
);

export interface EndpointSpec {
  name: string;
  method: string;
  path: string;
  body: BodyKind;
  /** Paths that route nowhere, with any method (instead of `path`). */
  unknown?: boolean;
}

/** All methods a client might send; a few are not routed anywhere. */
const OTHER_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE'];

export function hostilePlan(endpoint: EndpointSpec): fc.Arbitrary<HostilePlan> {
  const good = { username: goodUsername, password: goodPassword };
  const hasId = endpoint.path.includes(':id');
  const idPlan: fc.Arbitrary<IdPlan> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .oneof(
          fc.string({ maxLength: 30 }),
          fc.constantFrom('%', '%zz', '%E0%A4%A', '%C0%AF', '%00', '%FF', '..', '%2e%2e', '%2F', 'a%2Fb', '*', '-', '__proto__'),
        )
        .map((text) => ({ kind: 'text' as const, text })),
    },
    { weight: 2, arbitrary: anyText(40).map((text) => ({ kind: 'text' as const, text: encodeURIComponentLoose(text) })) },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 9_000 }).map((length) => ({ kind: 'huge' as const, length })) },
    { weight: 2, arbitrary: fc.constant({ kind: 'own-handle' as const }) },
  );
  const pathPlan: fc.Arbitrary<PathPlan> = endpoint.unknown
    ? unknownPath.map((path) => ({ kind: 'raw' as const, path }))
    : hasId
      ? fc.oneof({ weight: 6, arbitrary: idPlan.map((id) => ({ kind: 'id' as const, id })) }, { weight: 1, arbitrary: pathVariant })
      : fc.oneof({ weight: 6, arbitrary: fc.constant({ kind: 'exact' as const }) }, { weight: 1, arbitrary: pathVariant });
  const bodyPlan: fc.Arbitrary<BodyPlan> =
    endpoint.body === 'credentials'
      ? jsonBodyPlan(['username', 'password'], [good.username, good.password])
      : endpoint.body === 'password-change'
        ? jsonBodyPlan(['currentPassword', 'newPassword'], [good.password, good.password])
        : endpoint.body === 'form'
          ? formBodyPlan([good.username, good.password])
          : fc.oneof(
              { weight: 6, arbitrary: fc.constant({ kind: 'empty' as const }) },
              { weight: 1, arbitrary: jsonBodyPlan(['username', 'password'], [good.username, good.password]) },
            );
  const types = endpoint.body === 'form' ? FORM_TYPES : JSON_TYPES;
  const contentType =
    endpoint.body === 'none'
      ? fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom(...JSON_TYPES, ...FORM_TYPES) })
      : fc.oneof(
          { weight: 8, arbitrary: fc.constant(types[0]) },
          { weight: 3, arbitrary: fc.constantFrom(...types) },
          { weight: 1, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: printable(40) },
        );
  return fc.record({
    method: endpoint.unknown
      ? fc.constantFrom(...OTHER_METHODS)
      : fc.oneof({ weight: 10, arbitrary: fc.constant(endpoint.method) }, { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) }),
    path: pathPlan,
    query: queryString,
    cookie: cookiePlan,
    headers: fc.oneof(
      { weight: 3, arbitrary: fc.constant<HeaderAttack[]>([]) },
      { weight: 2, arbitrary: fc.array(headerAttack, { minLength: 1, maxLength: 2 }) },
    ),
    contentType,
    contentEncoding,
    body: bodyPlan,
    framing: framingAttack,
  });
}

/** Paths that route nowhere: scanner favourites, odd encodings, long and deep paths. */
export const unknownPath: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '/admin',
    '/.env',
    '/.git/config',
    '/wp-login.php',
    '/api',
    '/api/',
    '/api/v1/users',
    '/api/login/x',
    '/api/sessions/a/b',
    '/static/',
    '/static/../package.json',
    '/static/%2e%2e/%2e%2e/etc/passwd',
    '/%',
    '/%zz',
    '/%E0%A4%A',
    '/%00',
    '/%C0%AF',
    '//',
    '/./.',
    '/healthz/x',
    '/metrics.json',
    '/login/',
    '/LOGIN',
    '/sessions',
    '/sessions/x',
    '/sessions/x/revoke/y',
    '/?',
    '/api/me%00',
    '*',
    'http://evil.example/api/me',
    'https://auth.example.test/api/me',
  ),
  fc.array(fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,20}$/), { minLength: 1, maxLength: 8 }).map((segments) => `/${segments.join('/')}`),
  anyText(40).map((s) => `/${encodeURIComponentLoose(s)}`),
  fc.integer({ min: 1_000, max: 12_000 }).map((n) => `/${'a/'.repeat(n / 2)}`),
);

const pathVariant: fc.Arbitrary<PathPlan> = fc.oneof(
  fc.record({
    kind: fc.constant('variant' as const),
    variant: fc.constantFrom('trailing-slash' as const, 'upper' as const, 'double-slash' as const, 'encoded' as const, 'dot-segment' as const),
  }),
  unknownPath.map((path) => ({ kind: 'raw' as const, path })),
);

/** Query strings: duplicate parameters, prototype keys, bad escapes, brackets, huge. */
export const queryString: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  {
    weight: 3,
    arbitrary: fc
      .array(
        fc.oneof(
          fc.constantFrom(
            'id=1',
            'id=2',
            'id[]=1',
            'id[0]=1',
            '__proto__=x',
            '__proto__[a]=1',
            'constructor[prototype][x]=1',
            'a',
            '=',
            '&',
            '%',
            '%zz',
            'a=%E0%A4%A',
            'username=a',
            'username=b',
          ),
          fc.tuple(printable(8), printable(16)).map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
        ),
        { minLength: 1, maxLength: 12 },
      )
      .map((pairs) => `?${pairs.join('&')}`),
  },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 3_000 }).map((n) => `?${Array.from({ length: n }, (_, i) => `a=${i}`).join('&')}`) },
);

/** encodeURIComponent that never throws (lone surrogates become %EF%BF%BD, like a browser). */
export function encodeURIComponentLoose(text: string): string {
  return encodeURIComponent(wellFormed(text));
}

/** Lone surrogates replaced by U+FFFD (String#toWellFormed, which lib es2023 lacks). */
export function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
