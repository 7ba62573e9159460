import { Router } from 'express';
import { notFound } from '../../errors.ts';
import type { SessionManager } from '../../sessions/session-manager.ts';
import type { RevocationFlow } from '../flows/revocation.ts';
import { requireSession, requireUser } from '../middleware/signed-in-user.ts';

/** A user's view of their own sessions (OWASP ASVS 7.4/7.5): list, revoke one, revoke others. */
export function sessionsApiRouter(sessions: SessionManager, revocation: RevocationFlow): Router {
  const router = Router();
  // requireSession per route (not router.use) so metrics see the matched route on 401s too.
  const signedIn = requireSession();

  router.get('/', signedIn, async (req, res) => {
    const user = requireUser(req);
    res.json({ sessions: await sessions.list(req, user.id) });
  });

  // Revoke all of the caller's other sessions ("log out everywhere else").
  router.delete('/', signedIn, async (req, res) => {
    await revocation.revokeOthers(req, res, requireUser(req));
    res.status(204).end();
  });

  router.delete('/:id', signedIn, async (req, res) => {
    const outcome = await revocation.revokeByHandle(req, res, requireUser(req), String(req.params.id));
    if (outcome === 'none') throw notFound('No such session.');
    res.status(204).end();
  });

  return router;
}
