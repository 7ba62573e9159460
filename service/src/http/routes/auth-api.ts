import { Router } from 'express';
import type { SessionManager } from '../../sessions/session-manager.ts';
import { notFound } from '../../errors.ts';
import { requireJson } from '../request-body.ts';
import { requireSession, requireUser } from '../middleware/signed-in-user.ts';
import type { AccountFlow } from '../flows/registration-and-password.ts';
import type { SignInFlow } from '../flows/sign-in.ts';

export interface AuthApiDeps {
  sessions: SessionManager;
  signInFlow: SignInFlow;
  accountFlow: AccountFlow;
}

/** JSON auth API: login, logout, me, password change, registration. */
export function authApiRouter({ sessions, signInFlow, accountFlow }: AuthApiDeps): Router {
  const router = Router();

  router.post('/login', async (req, res) => {
    requireJson(req);
    const user = await signInFlow.signIn(req, res);
    res.json({ user: { id: user.id, username: user.username } });
  });

  router.post('/logout', async (req, res) => {
    await signInFlow.signOut(req, res);
    res.status(204).end();
  });

  router.get('/me', (req, res) => {
    const user = requireUser(req);
    res.json({ user: { id: user.id, username: user.username, groups: user.groups }, session: sessions.times(req) });
  });

  router.post('/password', requireSession(), async (req, res) => {
    const user = requireUser(req);
    requireJson(req);
    await accountFlow.changePassword(req, res, user);
    res.status(204).end();
  });

  router.post('/register', async (req, res) => {
    // 404 rather than 403: with sign-up off the endpoint simply does not exist.
    if (!accountFlow.signupEnabled) throw notFound('No such route.');
    requireJson(req);
    const user = await accountFlow.register(req);
    res.status(201).json({ user: { id: user.id, username: user.username } });
  });

  return router;
}
