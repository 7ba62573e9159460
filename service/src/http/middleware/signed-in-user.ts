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
 * Runs after the session layer. A session is loaded only while it is valid (not revoked, begun
 * with the user's current password, inside its idle and absolute deadlines: SessionStore), so
 * loading it was those checks; this moves the idle clock once per touch interval (express-session
 * saves that change on the way out) and names the user. No Redis call here.
 */
export function loadSessionUser(sessions: SessionManager): RequestHandler {
  return (req, _res, next) => {
    if (req.session?.userId) {
      if (sessions.dueForTouch(req)) sessions.touch(req);
      req.user = sessions.userOf(req);
    }
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
