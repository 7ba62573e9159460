import type { Request, RequestHandler } from 'express';
import { unauthenticated } from '../../errors.ts';
import type { SessionManager, SessionUser } from '../../sessions/session-manager.ts';
import type { SessionLayer } from '../../sessions/session-middleware.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** The signed-in user, set by loadSessionUser when the session is valid. */
    user?: SessionUser;
  }
}

/**
 * Runs after the session layer. A session record exists, and was read, only while the session
 * is valid (not revoked, begun with the user's current password: SessionStore), so loading it
 * was those checks; this ends sessions past their idle or absolute deadline, moves the idle
 * clock once per touch interval, and names the user. A fresh session costs no Redis call here.
 */
export function loadSessionUser(sessions: SessionManager, layer: Pick<SessionLayer, 'persistTouch'>): RequestHandler {
  return (req, res, next) => {
    if (!req.session?.userId) return next();
    const state = sessions.deadlineOf(req);
    if (state === 'fresh') {
      req.user = sessions.userOf(req);
      return next();
    }
    const settle = async () => {
      if (state !== 'touch') return sessions.expire(req, state === 'absolute_timeout' ? 'absolute_timeout' : 'idle_timeout');
      sessions.touch(req);
      await layer.persistTouch(req, res);
      req.user = sessions.userOf(req);
    };
    settle().then(() => next(), next);
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
