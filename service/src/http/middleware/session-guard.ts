import type { Request, RequestHandler } from 'express';
import { unauthenticated } from '../../errors.ts';
import type { SessionManager, SessionUser } from '../../sessions/session-manager.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** The signed-in user, set by loadSessionUser when the session is valid. */
    user?: SessionUser;
  }
}

/**
 * Runs after express-session. A session record exists only while the session is valid (every
 * write to it is conditional, SessionStore), so loading it was the revocation and credential
 * check; this ends sessions past their idle or absolute deadline and names the user. No Redis
 * round trip of its own on a signed-in read.
 */
export function loadSessionUser(sessions: SessionManager): RequestHandler {
  return async (req, _res, next) => {
    if (!req.session?.userId) return next();
    if (await sessions.enforceDeadlines(req)) return next();
    req.user = sessions.userOf(req);
    next();
  };
}

export function requireUser(req: Request): SessionUser {
  if (!req.user) throw unauthenticated();
  return req.user;
}

/** For JSON routes: 401 unauthenticated when there is no valid session. */
export function requireSession(): RequestHandler {
  return (req, _res, next) => {
    requireUser(req);
    next();
  };
}
