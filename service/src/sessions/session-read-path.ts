import type { Request, RequestHandler, Response } from 'express';
import { parse as parseCookies, serialize as serializeCookie, type CookieSerializeOptions } from 'cookie';
import { sign, unsign } from 'cookie-signature';
import type { SessionData } from 'express-session';
import type { SessionManager } from './session-manager.ts';
import type { SessionStore } from './session-store.ts';
import './session-types.ts';

/**
 * The read path: GET and HEAD requests load their session here instead of through
 * express-session. A safe request never creates, fills or ends a session; the one change it may
 * make is moving the idle clock (once per touch interval), and this saves that like
 * express-session would. What it leaves out is express-session's per-request machinery: three
 * change hashes of the session (JSON + SHA-1 each) and the response hooks that use them,
 * measured at about a fifth of a signed-in read's CPU (README, make bench). Every other request
 * goes through express-session (sessions/session-middleware.ts). SESSION_READ_PATH=false sends
 * GET and HEAD there too.
 *
 * It is tested equal to express-session alone (service/test/sessions/read-path.test.ts): the same
 * requests, in every cookie state, give the same status, body, Set-Cookie and Redis state through
 * both. It depends on these express-session internals, pinned by the exact express-session
 * version in package.json and checked by that test, which fails when an upgrade changes them:
 *  1. the cookie value is 's:' + cookie-signature's sign(session id, secret); a value verifies
 *     when it unsigns with any of the secrets, tried in order (getcookie, unsigncookie);
 *  2. a loaded session is what Store.prototype.createSession(req, record) makes, which is what
 *     express-session itself calls; its Session reaches the store through req.sessionStore;
 *  3. a session whose cookie was issued is re-issued as setcookie does: cookie.serialize(name,
 *     's:' + sign(id, newest secret), session.cookie.data), appended to Set-Cookie, and only over
 *     a connection the edge vouched for when the cookie is Secure; before that, the session's
 *     cookie is touched (Session.prototype.touch, a new expiry);
 *  4. without a cookie that verifies, or without a record, express-session makes an empty
 *     session that, with saveUninitialized false, is never saved and sets no cookie: here such a
 *     request simply has no session, which looks the same from outside (GET handlers only ever
 *     read req.user).
 * The cookie is verified at most once per request, here (once per cookie value: a value that
 * verified is remembered) or in express-session, never both.
 */
/** Verified cookie values remembered (about 150 bytes each). */
const VERIFIED_CACHE_SIZE = 10_000;

export function createReadPath(deps: {
  store: SessionStore;
  sessions: SessionManager;
  cookieName: string;
  secrets: readonly string[];
  /** Called with each session loaded, before anything changes it. */
  onLoad: (req: Request) => void;
}): RequestHandler {
  const { store, sessions, cookieName, secrets, onLoad } = deps;

  // Cookie values that verified, and their session id: a signed-in browser sends the same value
  // request after request, and the HMAC is the largest cost of a read that is left. Safe: only
  // values that verified are kept, and an entry is the answer the HMAC would give. Bounded: the
  // oldest entry goes first.
  const verified = new Map<string, string>();
  const sessionIdOf = (header: string | undefined): string | undefined => {
    if (!header || !header.includes(cookieName)) return undefined;
    let raw: string | undefined;
    try {
      raw = parseCookies(header)[cookieName];
    } catch {
      return undefined;
    }
    if (!raw?.startsWith('s:')) return undefined;
    const known = verified.get(raw);
    if (known !== undefined) return known;
    for (const secret of secrets) {
      const id = unsign(raw.slice(2), secret);
      if (id === false) continue;
      if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value!);
      verified.set(raw, id);
      return id;
    }
    return undefined;
  };

  const load = async (req: Request, res: Response, id: string): Promise<void> => {
    const record = (await store.get(id)) as SessionData | null;
    if (!record) return;
    // express-session gave the store its generate() when the session middleware was made.
    req.sessionStore = store as unknown as typeof req.sessionStore;
    req.sessionID = id;
    store.createSession(req, record);
    onLoad(req);
    if (!sessions.dueForTouch(req)) return;
    // The one change a read makes, saved as express-session saves a changed session.
    sessions.touch(req);
    req.session.touch();
    await store.set(id, req.session as unknown as SessionData);
    if (req.session.cookie.secure && !req.secure) return;
    const attributes = (req.session.cookie as unknown as { data: CookieSerializeOptions }).data;
    const cookie = serializeCookie(cookieName, `s:${sign(id, secrets[0]!)}`, attributes);
    res.append('Set-Cookie', cookie);
  };

  return (req, res, next) => {
    const id = sessionIdOf(req.headers.cookie);
    if (id === undefined) return next();
    load(req, res, id).then(() => next(), next);
  };
}
