import { gzipSync } from 'node:zlib';
import { wellFormed, type EndpointSpec } from './generators.ts';
import { MARK, type BodyPlan, type CookiePlan, type HostilePlan, type PathPlan } from './plans.ts';

/** Turns a hostile plan (generators.ts) plus the run's facts into the raw bytes raw-http.ts sends. */
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
      const id =
        plan.id.kind === 'own-handle'
          ? facts.ownHandle
          : plan.id.kind === 'huge'
            ? 'h'.repeat(plan.id.length)
            : plan.id.text;
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
  const hasLength = headers.some(
    ([name]) => typeof name === 'string' && /^(content-length|transfer-encoding)$/i.test(name),
  );
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
