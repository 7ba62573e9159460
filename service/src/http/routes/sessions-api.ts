import { Router, type Response } from 'express';
import type { SessionManager } from '../../sessions/session-manager.ts';
import { notFound } from '../app-error.ts';
import { requireSession, requireUser } from '../middleware/session-guard.ts';

/** A user's view of their own sessions (OWASP ASVS 7.4/7.5): list, revoke one, revoke others. */
export function sessionsApiRouter(sessions: SessionManager, clearSessionCookie: (res: Response) => void): Router {
  const router = Router();
  // requireSession per route (not router.use) so metrics see the matched route on 401s too.
  const signedIn = requireSession();

  router.get('/', signedIn, async (req, res) => {
    const user = requireUser(req);
    res.json({ sessions: await sessions.list(user.id, req.sessionID) });
  });

  // Revoke all of the caller's other sessions ("log out everywhere else").
  router.delete('/', signedIn, async (req, res) => {
    const user = requireUser(req);
    const revoked = await sessions.revokeAll(user.id, 'revoked', req.sessionID);
    req.log.info({ event: 'sessions.revoked_others', userId: user.id, count: revoked }, 'other sessions revoked');
    res.status(204).end();
  });

  router.delete('/:id', signedIn, async (req, res) => {
    const user = requireUser(req);
    // Only the caller's own index is searched: another user's handle is simply not found.
    const outcome = await sessions.revokeByHandle(req, user.id, String(req.params.id), 'revoked');
    if (outcome === 'none') throw notFound('No such session.');
    if (outcome === 'current') clearSessionCookie(res);
    req.log.info({ event: 'session.revoked', userId: user.id, current: outcome === 'current' }, 'session revoked');
    res.status(204).end();
  });

  return router;
}
