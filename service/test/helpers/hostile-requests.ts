import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';

/**
 * Hostile HTTP requests for the fuzz suite (test/http/hostile-input.test.ts).
 *
 * Arbitraries produce plain-data *plans* (printable, shrinkable, reproducible from a seed);
 * `buildRequest` turns a plan plus run-time facts (the live session cookie, a handle) into
 * raw bytes, and `sendRaw` writes those bytes over a TCP socket. Node's own http client
 * refuses NUL, control characters and invalid UTF-8 in headers, so every request goes out
 * as raw bytes and the answer is parsed by hand.
 */

// ---------------------------------------------------------------------------------------
// Raw HTTP over a socket

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export interface SendOptions {
  /** HEAD: the answer has a Content-Length but no body. */
  head?: boolean;
  /** Half-close after writing (a truncated body then ends instead of waiting). */
  halfClose?: boolean;
  timeoutMs?: number;
}

/** Writes `bytes` to 127.0.0.1:port and resolves with the first final (non-1xx) response. */
export function sendRaw(port: number, bytes: Buffer, options: SendOptions = {}): Promise<RawResponse> {
  const { head = false, halfClose = false, timeoutMs = 10_000 } = options;
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, response?: RawResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(response!);
    };
    const timer = setTimeout(() => finish(new Error(`no complete response within ${timeoutMs} ms`)), timeoutMs);
    const tryParse = (closed: boolean) => {
      for (;;) {
        const end = buffer.indexOf('\r\n\r\n');
        if (end < 0)
          return closed
            ? finish(new Error(`connection closed without a response (${buffer.length} bytes: ${JSON.stringify(buffer.toString('latin1').slice(0, 80))})`))
            : undefined;
        const lines = buffer.subarray(0, end).toString('latin1').split('\r\n');
        const match = /^HTTP\/\d\.\d (\d{3})/.exec(lines[0] ?? '');
        if (!match) return finish(new Error(`unparseable status line: ${JSON.stringify(lines[0])}`));
        const status = Number(match[1]);
        const rest = buffer.subarray(end + 4);
        if (status >= 100 && status < 200) {
          buffer = rest; // interim (100 Continue): the final answer follows
          continue;
        }
        const headers: Record<string, string> = {};
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(':');
          if (colon <= 0) continue;
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
        }
        if (head || status === 204 || status === 304) return finish(undefined, { status, headers, body: Buffer.alloc(0) });
        if (headers['content-length'] !== undefined) {
          const length = Number(headers['content-length']);
          if (rest.length >= length) return finish(undefined, { status, headers, body: rest.subarray(0, length) });
          return closed ? finish(new Error(`body truncated: ${rest.length}/${length} bytes`)) : undefined;
        }
        if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
          const body = dechunk(rest);
          if (body) return finish(undefined, { status, headers, body });
          return closed ? finish(new Error('chunked body truncated')) : undefined;
        }
        return closed ? finish(undefined, { status, headers, body: rest }) : undefined;
      }
    };
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      tryParse(false);
    });
    socket.on('end', () => tryParse(true));
    socket.on('close', () => tryParse(true));
    // A reset after the server answered is fine (it may close mid-upload); before, it is not.
    socket.on('error', () => tryParse(true));
    socket.write(bytes, () => {
      if (halfClose) socket.end();
    });
  });
}

/** The decoded body once the terminating chunk has arrived, else undefined. */
function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd < 0) return undefined;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return Buffer.concat(parts);
    if (size === 0) return Buffer.concat(parts);
    if (data.length < lineEnd + 2 + size + 2) return undefined;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
}

// ---------------------------------------------------------------------------------------
// Plans

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
          '__Host-sid',
          '__Host-sid=',
          '=__Host-sid',
          '__Host-sid=%',
          '__Host-sid=%E0%A4%A',
          '__host-sid=s%3Ax.y',
          ';;;',
          '__Host-sid="s:',
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

// ---------------------------------------------------------------------------------------
// Plan -> bytes

export interface RunFacts {
  cookieName: string;
  /** The endpoint user's credentials, substituted for MARK.user / MARK.password. */
  username: string;
  password: string;
  /** The endpoint user's live cookie value (URL-encoded `s:<id>.<sig>`). */
  liveCookie: string;
  /** Cookie values (URL-encoded) of sessions that were logged out. */
  loggedOutCookies: string[];
  /** Cookie value of a session whose user was deleted. */
  removedUserCookie: string;
  /** Public handle of the live session (for :id routes). */
  ownHandle: string;
  /** Signs a session id with a secret: `<id>.<sig>` (cookie-signature). */
  sign: (value: string, secret: string) => string;
  /** The secret the service signs with. */
  secret: string;
}

export interface BuiltRequest {
  bytes: Buffer;
  method: string;
  target: string;
  head: boolean;
  halfClose: boolean;
  /** The cookie plan sends the live session as the first session cookie. */
  presentsLiveSession: boolean;
  /** The body as sent, before any Content-Encoding (to learn a password the server accepted). */
  bodyText: string;
}

export function cookieHeader(plan: CookiePlan, facts: RunFacts): string | undefined {
  const name = facts.cookieName;
  const pick = <T>(list: T[], index: number) => list[index % list.length]!;
  const liveId = () => {
    const signed = decodeURIComponent(facts.liveCookie).slice(2); // drop "s:"
    return signed.slice(0, signed.lastIndexOf('.'));
  };
  switch (plan.kind) {
    case 'none':
      return undefined;
    case 'live':
      return `${name}=${facts.liveCookie}`;
    case 'forged':
      return `${name}=${plan.value}`;
    case 'truncated':
      return `${name}=${facts.liveCookie.slice(0, Math.floor(facts.liveCookie.length * plan.keep))}`;
    case 'tampered': {
      const value = facts.liveCookie;
      const at = plan.at % value.length;
      const replacement = value[at] === plan.char ? (plan.char === 'A' ? 'B' : 'A') : plan.char;
      return `${name}=${value.slice(0, at)}${replacement}${value.slice(at + 1)}`;
    }
    case 'resigned':
      return `${name}=${encodeURIComponent(`s:${facts.sign(liveId(), plan.secret)}`)}`;
    case 'signed-garbage-id':
      return `${name}=${encodeURIComponent(`s:${facts.sign(wellFormed(plan.id), facts.secret)}`)}`;
    case 'logged-out':
      return `${name}=${pick(facts.loggedOutCookies, plan.index)}`;
    case 'removed-user':
      return `${name}=${facts.removedUserCookie}`;
    case 'duplicate': {
      const first = cookieHeader(plan.first, facts) ?? `${name}=`;
      const second = cookieHeader(plan.second, facts) ?? `${name}=`;
      return `${first}; other=1; ${second}`;
    }
    case 'raw':
      return plan.header;
  }
}

function presentsLive(plan: CookiePlan): boolean {
  return plan.kind === 'live' || (plan.kind === 'duplicate' && plan.first.kind === 'live');
}

function resolvePath(endpoint: EndpointSpec, plan: PathPlan, facts: RunFacts): string {
  const base = endpoint.path;
  switch (plan.kind) {
    case 'exact':
      return base;
    case 'raw':
      return plan.path;
    case 'id': {
      const id = plan.id.kind === 'own-handle' ? facts.ownHandle : plan.id.kind === 'huge' ? 'h'.repeat(plan.id.length) : plan.id.text;
      return base.replace(':id', id);
    }
    case 'variant': {
      const concrete = base.replace(':id', facts.ownHandle);
      switch (plan.variant) {
        case 'trailing-slash':
          return `${concrete}/`;
        case 'upper':
          return concrete.toUpperCase();
        case 'double-slash':
          return concrete.replace(/\//g, '//');
        case 'encoded':
          return concrete.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`);
        case 'dot-segment':
          return `/x/..${concrete}`;
      }
    }
  }
}

function bodyBytes(plan: BodyPlan): Buffer {
  switch (plan.kind) {
    case 'empty':
      return Buffer.alloc(0);
    case 'json-value':
      return Buffer.from(JSON.stringify(plan.value) ?? 'null', 'utf8');
    case 'text':
    case 'form':
      return Buffer.from(plan.text, 'utf8');
    case 'bytes':
      return Buffer.from(plan.bytes);
    case 'duplicate-keys':
      return Buffer.from(plan.json, 'utf8');
    case 'nested': {
      const { depth, shape } = plan;
      if (shape === 'array') return Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`);
      if (shape === 'object') return Buffer.from(`${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`);
      return Buffer.from(`{"username":${'['.repeat(depth)}${']'.repeat(depth)},"password":"x"}`);
    }
    case 'huge-field':
      return Buffer.from(JSON.stringify({ [plan.field]: plan.char.repeat(plan.length) }), 'utf8');
  }
}

/** Puts the run's username and password where the plan has MARK placeholders (raw or URL-encoded). */
function substitute(body: Buffer, facts: RunFacts): Buffer {
  const text = body.toString('utf8');
  if (!text.includes('\u27e6') && !text.includes('%E2%9F%A6')) return body;
  const pairs: Array<[string, string]> = [
    [MARK.user, facts.username],
    [MARK.user.toUpperCase(), facts.username.toUpperCase()],
    [MARK.password, facts.password],
  ];
  let out = text;
  for (const [mark, value] of pairs) {
    out = out.replaceAll(mark, value).replaceAll(encodeURIComponent(mark), encodeURIComponent(value));
  }
  return Buffer.from(out, 'utf8');
}

/** The request line, headers and body for a plan; Content-Length unless framing says otherwise. */
export function buildRequest(endpoint: EndpointSpec, plan: HostilePlan, facts: RunFacts): BuiltRequest {
  const target = resolvePath(endpoint, plan.path, facts) + plan.query;
  let body = substitute(bodyBytes(plan.body), facts);
  const bodyText = body.toString('utf8');
  const headers: Array<[Buffer | string, Buffer | string]> = [
    ['Host', 'auth.example.test'],
    ['X-Forwarded-Proto', 'https'],
    ['Connection', 'close'],
  ];
  const cookie = cookieHeader(plan.cookie, facts);
  if (cookie !== undefined) headers.push(['Cookie', cookie]);
  if (plan.contentType !== undefined) headers.push(['Content-Type', plan.contentType]);
  if (plan.contentEncoding === 'gzip-valid') {
    body = gzipSync(body);
    headers.push(['Content-Encoding', 'gzip']);
  } else if (plan.contentEncoding !== undefined) {
    headers.push(['Content-Encoding', plan.contentEncoding]);
  }

  let foldLine: string | undefined;
  for (const attack of plan.headers) {
    switch (attack.kind) {
      case 'bytes':
        headers.push([attack.name, Buffer.from(attack.value)]);
        break;
      case 'junk':
        headers.push([attack.name, attack.value]);
        break;
      case 'bad-name':
        headers.push([Buffer.from(attack.name), 'x']);
        break;
      case 'fold':
        headers.push(['X-Folded', 'a']);
        foldLine = ` ${attack.value}`;
        break;
      case 'huge':
        headers.push([attack.name, 'h'.repeat(attack.size)]);
        break;
      case 'many':
        for (let i = 0; i < attack.count; i += 1) headers.push([`X-Many-${i}`, String(i)]);
        break;
      case 'duplicate':
        for (const value of attack.values) headers.push([attack.name, value]);
        break;
    }
  }

  const framing = plan.framing;
  let version = 'HTTP/1.1';
  let eol = '\r\n';
  let tail = Buffer.alloc(0);
  let halfClose = false;
  const hasLength = headers.some(([name]) => typeof name === 'string' && /^(content-length|transfer-encoding)$/i.test(name));
  switch (framing.kind) {
    case 'version':
      version = framing.version;
      break;
    case 'bare-lf':
      eol = '\n';
      break;
    case 'cl-and-te':
      headers.push(['Content-Length', String(body.length)], ['Transfer-Encoding', 'chunked']);
      break;
    case 'bad-chunk':
      headers.push(['Transfer-Encoding', 'chunked']);
      body = Buffer.concat([Buffer.from(`zz\r\n`), body, Buffer.from('\r\n0\r\n\r\n')]);
      break;
    case 'short-body':
      headers.push(['Content-Length', String(body.length + framing.missing)]);
      halfClose = true;
      break;
    case 'trailing-garbage':
      tail = Buffer.from(framing.bytes);
      break;
    case 'none':
      break;
  }
  if (!hasLength && framing.kind !== 'cl-and-te' && framing.kind !== 'bad-chunk' && framing.kind !== 'short-body') {
    headers.push(['Content-Length', String(body.length)]);
  }

  const parts: Buffer[] = [Buffer.from(`${plan.method} ${target}${version ? ` ${version}` : ''}${eol}`, 'utf8')];
  for (const [name, value] of headers) {
    parts.push(
      typeof name === 'string' ? Buffer.from(name, 'latin1') : name,
      Buffer.from(': '),
      typeof value === 'string' ? Buffer.from(value, 'utf8') : value,
      Buffer.from(eol),
    );
    if (foldLine && name === 'X-Folded') parts.push(Buffer.from(`${foldLine}${eol}`, 'latin1'));
  }
  parts.push(Buffer.from(eol), body, tail);
  return {
    bytes: Buffer.concat(parts),
    method: plan.method,
    target,
    head: plan.method === 'HEAD',
    halfClose,
    presentsLiveSession: presentsLive(plan.cookie),
    bodyText,
  };
}
