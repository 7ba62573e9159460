import fc from 'fast-check';
import { FORM_TYPES, JSON_TYPES, contentEncoding, formBodyPlan, jsonBodyPlan } from './body-arbitraries.ts';
import {
  anyText,
  cookiePlan,
  framingAttack,
  goodPassword,
  goodUsername,
  headerAttack,
  printable,
} from './header-arbitraries.ts';
import type { BodyKind, BodyPlan, HeaderAttack, HostilePlan, IdPlan, PathPlan } from './plans.ts';

// Whole hostile requests (plans.ts) for one endpoint, and the paths and query strings they use.

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
          fc.constantFrom(
            '%',
            '%zz',
            '%E0%A4%A',
            '%C0%AF',
            '%00',
            '%FF',
            '..',
            '%2e%2e',
            '%2F',
            'a%2Fb',
            '*',
            '-',
            '__proto__',
          ),
        )
        .map((text) => ({ kind: 'text' as const, text })),
    },
    {
      weight: 2,
      arbitrary: anyText(40).map((text) => ({ kind: 'text' as const, text: encodeURIComponentLoose(text) })),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 1_000, max: 9_000 }).map((length) => ({ kind: 'huge' as const, length })),
    },
    { weight: 2, arbitrary: fc.constant({ kind: 'own-handle' as const }) },
  );
  const pathPlan: fc.Arbitrary<PathPlan> = endpoint.unknown
    ? unknownPath.map((path) => ({ kind: 'raw' as const, path }))
    : hasId
      ? fc.oneof(
          { weight: 6, arbitrary: idPlan.map((id) => ({ kind: 'id' as const, id })) },
          { weight: 1, arbitrary: pathVariant },
        )
      : fc.oneof(
          { weight: 6, arbitrary: fc.constant({ kind: 'exact' as const }) },
          { weight: 1, arbitrary: pathVariant },
        );
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
      ? fc.oneof(
          { weight: 3, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: fc.constantFrom(...JSON_TYPES, ...FORM_TYPES) },
        )
      : fc.oneof(
          { weight: 8, arbitrary: fc.constant(types[0]) },
          { weight: 3, arbitrary: fc.constantFrom(...types) },
          { weight: 1, arbitrary: fc.constant(undefined) },
          { weight: 1, arbitrary: printable(40) },
        );
  return fc.record({
    method: endpoint.unknown
      ? fc.constantFrom(...OTHER_METHODS)
      : fc.oneof(
          { weight: 10, arbitrary: fc.constant(endpoint.method) },
          { weight: 1, arbitrary: fc.constantFrom(...OTHER_METHODS) },
        ),
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
  fc
    .array(fc.stringMatching(/^[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,20}$/), { minLength: 1, maxLength: 8 })
    .map((segments) => `/${segments.join('/')}`),
  anyText(40).map((s) => `/${encodeURIComponentLoose(s)}`),
  fc.integer({ min: 1_000, max: 12_000 }).map((n) => `/${'a/'.repeat(n / 2)}`),
);

const pathVariant: fc.Arbitrary<PathPlan> = fc.oneof(
  fc.record({
    kind: fc.constant('variant' as const),
    variant: fc.constantFrom(
      'trailing-slash' as const,
      'upper' as const,
      'double-slash' as const,
      'encoded' as const,
      'dot-segment' as const,
    ),
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
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 100, max: 3_000 })
      .map((n) => `?${Array.from({ length: n }, (_, i) => `a=${i}`).join('&')}`),
  },
);

/** encodeURIComponent that never throws (lone surrogates become %EF%BF%BD, like a browser). */
export function encodeURIComponentLoose(text: string): string {
  return encodeURIComponent(wellFormed(text));
}

/** Lone surrogates replaced by U+FFFD (String#toWellFormed, which lib es2023 lacks). */
export function wellFormed(text: string): string {
  return text.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
}
