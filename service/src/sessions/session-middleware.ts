import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler } from 'express';
import session from 'express-session';
import type { Config } from '../config/config.ts';
import type { Metrics } from '../infra/metrics.ts';
import { sessionCookieOptions, signingSecretId } from './session-cookie.ts';
import type { SessionManager } from './session-manager.ts';
import { createReadPath } from './session-read-path.ts';
import type { SessionStore } from './session-store.ts';
import './session-types.ts';

/**
 * Sessions on Redis (SessionStore). express-session is the session engine: it reads and verifies
 * the cookie, loads the record, and saves it, issues and rotates the cookie for every request
 * that may create, change or end a session, used through its documented API (options,
 * req.session and its regenerate/save/destroy, the Store interface). GET and HEAD requests,
 * which never do more than move the idle clock, load their session through the read path
 * (session-read-path.ts), proven equal to express-session; SESSION_READ_PATH=false turns it off.
 *
 * What keeps express-session cheap here is the store and these options: a read is one Redis GET
 * (SessionStore.get), and a read that changes nothing writes nothing and sets no cookie (resave
 * false, rolling false, a store without touch). The idle clock moves once per touch interval
 * (SessionManager), which is a change: the record is saved and the cookie re-issued with a new
 * expiry and the newest secret.
 */
export function createSessionMiddleware(deps: {
  store: SessionStore;
  sessions: SessionManager;
  config: Config;
  metrics: Metrics;
}): RequestHandler {
  const { store, sessions, config, metrics } = deps;
  const { secrets, cookieName } = config.session;
  const newestSecret = signingSecretId(config.session);

  const expressSession = session({
    name: cookieName,
    // An array: the first signs, every one verifies. Rotation prepends a new secret.
    secret: [...secrets],
    store,
    // 256-bit random ids. Redis only ever sees their digest (SessionStore).
    genid: () => randomBytes(32).toString('base64url'),
    resave: false,
    saveUninitialized: false,
    // Not rolling: a session that is only read writes nothing and its cookie is not re-signed.
    rolling: false,
    // 'keep' (never 'destroy'): when loading a session fails (Redis away), express-session
    // would otherwise delete it from the store on the way out, logging the user out for a
    // blip. Sessions are ended explicitly (SessionManager.end).
    unset: 'keep',
    cookie: sessionCookieOptions(config.session),
  });

  /**
   * session_secret_fallback_total: requests whose cookie was signed with an older secret. A
   * session record is saved exactly when its cookie is (re-)issued, and it keeps the id of the
   * secret that signed that cookie (SessionManager), so comparing it with the newest secret
   * answers without verifying the cookie a second time. With one secret there is nothing to
   * fall back to; a record from before this field counts as a fallback until its next touch.
   */
  const countSecretFallback = (req: Request) => {
    if (secrets.length > 1 && req.session?.userId && req.session.signedWith !== newestSecret)
      metrics.sessionSecretFallback.inc();
  };

  const readPath = config.session.readPath
    ? createReadPath({ store, sessions, cookieName, secrets, onLoad: countSecretFallback })
    : undefined;
  return (req, res, next) => {
    if (readPath && (req.method === 'GET' || req.method === 'HEAD')) return readPath(req, res, next);
    expressSession(req, res, (error?: unknown) => {
      if (error === undefined) countSecretFallback(req);
      next(error as Error | undefined);
    });
  };
}
