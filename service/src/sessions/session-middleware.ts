import { randomBytes } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import session from 'express-session';
import type { Config } from '../config/config.ts';
import type { Metrics } from '../infra/metrics.ts';
import { sessionCookieOptions } from './session-cookie.ts';
import type { SessionStore } from './session-store.ts';
import { SessionCookieVerifier, cookieValue } from './signed-cookie.ts';
import './session-types.ts';

/** Sessions loaded by the read path: express-session does not see them, so their saves are explicit. */
const readPathSessions = new WeakSet<object>();

export interface SessionLayer {
  /** In order: the fallback counter, the read path, express-session. */
  handlers: RequestHandler[];
  /**
   * Persists a session's moved idle clock when express-session will not (a read-path session):
   * saves the record (conditionally, SessionStore) and re-issues the cookie, newest secret.
   */
  persistTouch(req: Request, res: Response): Promise<void>;
}

/**
 * Sessions: express-session on Redis (SessionStore), for every request that may create, change
 * or end a session, plus a read path for GET/HEAD with a session cookie. The read path does what
 * express-session does to load a session (the same cookie check with every secret, the same
 * store read, the same Session object, so regenerate/save/destroy work on it) without its
 * per-request machinery: two SHA-1s over the record to detect changes and the response hooks
 * that decide whether to save. A read that moves the idle clock (once per touch interval) saves
 * through persistTouch. Measured: that machinery was a fifth of a signed-in read's CPU.
 */
export function createSessionLayer(store: SessionStore, config: Config, metrics: Metrics): SessionLayer {
  const { secrets, cookieName } = config.session;
  const verifier = new SessionCookieVerifier(secrets);
  const cookieOptions = sessionCookieOptions(config.session);

  const countSecretFallback: RequestHandler = (req, _res, next) => {
    // With one secret there is nothing to fall back to.
    if (secrets.length > 1 && (verifier.verify(cookieValue(req.headers.cookie, cookieName))?.secretIndex ?? 0) > 0) {
      metrics.sessionSecretFallback.inc();
    }
    next();
  };

  const readPath: RequestHandler = (req, _res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    const verified = verifier.verify(cookieValue(req.headers.cookie, cookieName));
    if (!verified) return next();
    store.get(verified.sessionId).then((data) => {
      if (data) {
        // express-session gave the store its generate() when the layer was built.
        req.sessionStore = store as unknown as typeof req.sessionStore;
        req.sessionID = verified.sessionId;
        req.session = store.createSession(req, data);
        readPathSessions.add(req.session);
      }
      // Without a record (expired, revoked) express-session runs and finds nothing either.
      next();
    }, next);
  };

  const expressSession = session({
    name: cookieName,
    // An array: the first signs, every one verifies. Rotation prepends a new secret.
    secret: secrets,
    store,
    // 256-bit random ids. Redis only ever sees their digest (SessionStore).
    genid: () => randomBytes(32).toString('base64url'),
    resave: false,
    saveUninitialized: false,
    // Not rolling: a session that is only read writes nothing and its cookie is not re-signed.
    // SessionManager moves the idle clock once per touch interval; that change saves the record
    // and re-issues the cookie (new expiry, newest secret).
    rolling: false,
    // 'keep' (never 'destroy'): when loading a session fails (Redis away), express-session
    // would otherwise delete it from the store on the way out, logging the user out for a
    // blip. Sessions are ended explicitly (SessionManager.end).
    unset: 'keep',
    cookie: cookieOptions,
  });

  return {
    handlers: [countSecretFallback, readPath, expressSession],
    async persistTouch(req, res) {
      if (!readPathSessions.has(req.session)) return; // express-session saves it on the way out
      await new Promise<void>((resolve) => req.session.save(() => resolve()));
      // As express-session does: a Secure cookie only over a connection the edge vouched for.
      if (req.secure || !cookieOptions.secure) res.cookie(cookieName, verifier.signed(req.sessionID), cookieOptions);
    },
  };
}
