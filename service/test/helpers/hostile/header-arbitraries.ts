import fc from 'fast-check';
import { COOKIE_NAMES } from '../../../src/config/config.ts';
import { MARK, type CookiePlan, type FramingAttack, type HeaderAttack, type SimpleCookie } from './plans.ts';

// Text, headers, cookies and message framing for the hostile requests (plans.ts).

const SESSION = COOKIE_NAMES.session.secure;

// Arbitraries

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

export const byte = fc.integer({ min: 0, max: 255 });
/** Bytes that are illegal or suspicious in a header value: NUL, CTLs, DEL, high bytes. */
export const hostileByte = fc.oneof(
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
    fc.string({
      unit: fc.oneof(loneSurrogate, fc.constantFrom('\u0000', '\u001f', '\u202e', '\ufeff', '\u0130', 'Ａ', '😀')),
      maxLength,
    }),
  );
// Control characters are exactly what this strips, so the regex names them.
export const printable = (maxLength = 40) =>
  // eslint-disable-next-line no-control-regex
  fc.string({ unit: 'binary-ascii', maxLength }).map((s) => s.replace(/[\x00-\x1f\x7f]/g, ''));

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
  'X-Forwarded-For': [
    '',
    ',,,',
    'unknown',
    '::ffff:999.1.1.1',
    '1.2.3.4, ',
    ' , 10.0.0.1',
    '[::1]:80',
    '127.0.0.1, 127.0.0.1, 127.0.0.1',
    'a'.repeat(300),
  ],
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
  .chain((name) =>
    fc
      .oneof(fc.constantFrom(...junkValues[name]!), printable(60))
      .map((value) => ({ kind: 'junk' as const, name, value })),
  );

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
      name: fc.array(fc.oneof(hostileByte, fc.constantFrom(0x20, 0x22, 0x28, 0x3a, 0x40)), {
        minLength: 1,
        maxLength: 8,
      }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('fold' as const), value: printable(20) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('huge' as const),
      name: headerName,
      size: fc.integer({ min: 4_000, max: 40_000 }),
    }),
  },
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
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('short-body' as const), missing: fc.integer({ min: 1, max: 50 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('trailing-garbage' as const),
      bytes: fc.array(byte, { minLength: 1, maxLength: 40 }),
    }),
  },
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
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('truncated' as const),
      keep: fc.double({ min: 0, max: 0.99, noNaN: true }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('tampered' as const),
      at: fc.nat(),
      char: fc.constantFrom('A', 'z', '0', '-', '_', '.', '%', '='),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('resigned' as const),
      secret: fc.string({ minLength: 1, maxLength: 64 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('signed-garbage-id' as const), id: anyText(80) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('logged-out' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'removed-user' as const }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('duplicate' as const), first: simpleCookie, second: simpleCookie }),
  },
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
        fc
          .array(fc.tuple(printable(12), printable(40)), { maxLength: 60 })
          .map((pairs) => pairs.map(([k, v]) => `${k}=${v}`).join('; ')),
      ),
    }),
  },
);
