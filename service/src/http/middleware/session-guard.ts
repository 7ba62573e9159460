import type { Request, RequestHandler } from 'express';
import { unauthenticated } from '../../errors.ts';
import type { SessionManager } from '../../sessions/session-manager.ts';
import type { User, UserRepository } from '../../users/user-repository.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** The signed-in user, set by loadSessionUser when the session is valid. */
    user?: User;
  }
}

/**
 * Runs after express-session: ends sessions past their idle or absolute deadline, loads the
 * user (a removed user's leftover session counts as none) and refuses records that were
 * revoked or begun before the last password change.
 */
export function loadSessionUser(sessions: SessionManager, users: UserRepository): RequestHandler {
  return async (req, _res, next) => {
    if (!req.session?.userId) return next();
    const expired = await sessions.enforceDeadlines(req);
    if (expired) return next();
    // Two independent Redis reads on every signed-in request: issue them together.
    const [user, indexed] = await Promise.all([users.findById(req.session.userId), sessions.isIndexed(req)]);
    if (!user) {
      await sessions.end(req, 'user_removed');
      return next();
    }
    if (!indexed || !sessions.matchesCredentials(req, user)) {
      await sessions.end(req, 'revoked');
      return next();
    }
    req.user = user;
    next();
  };
}

export function requireUser(req: Request): User {
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
