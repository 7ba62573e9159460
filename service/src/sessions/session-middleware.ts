import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import session from 'express-session';
import type { Config } from '../config/config.ts';
import type { Metrics } from '../infra/metrics.ts';
import { matchCookieSecret } from './secret-rotation.ts';
import { sessionCookieOptions } from './session-cookie.ts';
import type { SessionStore } from './session-store.ts';
import './session-types.ts';

/**
 * express-session on Redis (SessionStore), plus a counter for cookies that verify only with an
 * older secret (session_secret_fallback_total).
 */
export function createSessionMiddleware(store: SessionStore, config: Config, metrics: Metrics): [RequestHandler, RequestHandler] {
  const { secrets, cookieName } = config.session;
  const countSecretFallback: RequestHandler = (req, _res, next) => {
    // With one secret there is nothing to fall back to: skip the second HMAC per request.
    if (secrets.length > 1 && matchCookieSecret(req.headers.cookie, cookieName, secrets) === 'fallback') {
      metrics.sessionSecretFallback.inc();
    }
    next();
  };
  const sessionMiddleware = session({
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
    // and re-issues the cookie (new expiry, newest secret) through express-session's own rules.
    rolling: false,
    // 'keep' (never 'destroy'): when loading a session fails (Redis away), express-session
    // would otherwise delete it from the store on the way out, logging the user out for a
    // blip. Sessions are ended explicitly (SessionManager.end).
    unset: 'keep',
    cookie: sessionCookieOptions(config.session),
  });
  return [countSecretFallback, sessionMiddleware];
}
