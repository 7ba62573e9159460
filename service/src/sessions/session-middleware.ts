import { randomBytes } from 'node:crypto';
import type { RequestHandler } from 'express';
import session, { type SessionData } from 'express-session';
import { RedisStore } from 'connect-redis';
import type { Config } from '../config/config.ts';
import type { Clock } from '../infra/clock.ts';
import type { Metrics } from '../infra/metrics.ts';
import type { RedisClient } from '../infra/redis-client.ts';
import type { RedisKeys } from '../infra/redis-keys.ts';
import { matchCookieSecret } from './secret-rotation.ts';
import { sessionCookieOptions } from './session-cookie.ts';
import './session-types.ts';

/** Seconds a session record should live in Redis: until its idle or absolute deadline. */
export function sessionTtlSeconds(sess: Partial<SessionData>, config: Config['session'], now: number): number {
  const lastSeen = sess.lastSeenAt ?? now;
  const created = sess.createdAt ?? now;
  const deadline = Math.min(lastSeen + config.idleTimeoutMs, created + config.absoluteTimeoutMs);
  return Math.ceil((deadline - now) / 1000);
}

export function createSessionStore(redis: RedisClient, keys: RedisKeys, config: Config, clock: Clock): RedisStore {
  return new RedisStore({
    client: redis,
    prefix: keys.sessionPrefix(),
    // Redis drops the record at the session's own deadline, so an abandoned session never
    // outlives its timeouts even if nobody ever presents the cookie again.
    ttl: (sess: SessionData) => sessionTtlSeconds(sess, config.session, clock.now()),
  });
}

/**
 * express-session on Redis, plus a counter for cookies that verify only with an older
 * secret (see session_secret_fallback_total).
 */
export function createSessionMiddleware(store: RedisStore, config: Config, metrics: Metrics): [RequestHandler, RequestHandler] {
  const { secrets, cookieName } = config.session;
  const countSecretFallback: RequestHandler = (req, _res, next) => {
    if (matchCookieSecret(req.headers.cookie, cookieName, secrets) === 'fallback') {
      metrics.sessionSecretFallback.inc();
    }
    next();
  };
  const sessionMiddleware = session({
    name: cookieName,
    // An array: the first signs, every one verifies. Rotation prepends a new secret.
    secret: secrets,
    store,
    // 256-bit random ids (the default uid-safe 24 bytes is fine too; this is explicit).
    genid: () => randomBytes(32).toString('base64url'),
    resave: false,
    saveUninitialized: false,
    // Re-issue the cookie on every response: slides the idle expiry and re-signs cookies that
    // still carry an older secret with the newest one.
    rolling: true,
    // 'keep' (never 'destroy'): when loading a session fails (Redis away), express-session
    // would otherwise delete it from the store on the way out, logging the user out for a
    // blip. Sessions are ended explicitly (SessionManager.end).
    unset: 'keep',
    cookie: sessionCookieOptions(config.session),
  });
  return [countSecretFallback, sessionMiddleware];
}
