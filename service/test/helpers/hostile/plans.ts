/**
 * Hostile HTTP requests for the fuzz suite (test/http/hostile-input.test.ts), in parts:
 *   plans.ts            what a hostile request is, as plain data (printable, shrinkable,
 *                       reproducible from a seed);
 *   header-arbitraries.ts, body-arbitraries.ts, generators.ts
 *                       fast-check arbitraries that produce those plans;
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

export type SimpleCookie = Extract<CookiePlan, { kind: 'none' | 'live' | 'forged' | 'resigned' | 'logged-out' }>;

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

/**
 * Placeholders the arbitraries put where the real username / password belong; buildRequest
 * substitutes the run's values, so plans stay plain data and reproduce from the seed.
 */
export const MARK = { user: '\u27e6user\u27e7', password: '\u27e6password\u27e7' } as const;
