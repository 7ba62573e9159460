import type { Request, Response } from 'express';
import type { SessionManager, SessionUser } from '../../sessions/session-manager.ts';

export interface RevocationFlow {
  /** Ends every other session of the signed-in user ("sign out everywhere else"). */
  revokeOthers(req: Request, user: SessionUser): Promise<number>;
  /**
   * Ends the user's session with this public handle: 'none' when the user has no such session,
   * 'current' when it was the caller's own (then the cookie is cleared too, like a logout).
   */
  revokeByHandle(req: Request, res: Response, user: SessionUser, handle: string): Promise<'none' | 'other' | 'current'>;
}

/**
 * Session revocation, shared by the JSON API and the HTML forms so both revoke, count and audit
 * the same way (it sits beside the sign-in flow). Only the caller's own sessions are searched:
 * another user's handle is simply not found.
 */
export function createRevocationFlow(deps: { sessions: SessionManager; clearSessionCookie: (res: Response) => void }): RevocationFlow {
  const { sessions, clearSessionCookie } = deps;
  return {
    async revokeOthers(req, user) {
      const count = await sessions.revokeAll(user.id, 'revoked', req.sessionID);
      req.log.info({ event: 'sessions.revoked_others', userId: user.id, count }, 'other sessions revoked');
      return count;
    },
    async revokeByHandle(req, res, user, handle) {
      const outcome = await sessions.revokeByHandle(req, user.id, handle, 'revoked');
      if (outcome === 'none') return outcome;
      if (outcome === 'current') clearSessionCookie(res);
      req.log.info({ event: 'session.revoked', userId: user.id, current: outcome === 'current' }, 'session revoked');
      return outcome;
    },
  };
}
