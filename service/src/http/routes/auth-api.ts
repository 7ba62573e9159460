import { Router } from 'express';
import type { Accounts } from '../../auth/accounts.ts';
import type { Authenticator } from '../../auth/authenticator.ts';
import type { SignupLimit } from '../../auth/login-throttle.ts';
import type { SessionManager } from '../../sessions/session-manager.ts';
import { notFound, tooManyAttempts } from '../../errors.ts';
import { credentialsSchema, parseBody, passwordChangeSchema, requireJson } from '../request-body.ts';
import { requireSession, requireUser } from '../middleware/session-guard.ts';
import { presentedDeviceToken, type SignInFlow } from '../flows/sign-in.ts';

export interface AuthApiDeps {
  authenticator: Authenticator;
  accounts: Accounts;
  sessions: SessionManager;
  signInFlow: SignInFlow;
  deviceCookieName: string;
  signup: { enabled: boolean; limit: SignupLimit };
}

/** JSON auth API: login, logout, me, password change, registration. */
export function authApiRouter({ authenticator, accounts, sessions, signInFlow, deviceCookieName, signup }: AuthApiDeps): Router {
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

  router.get('/me', requireSession(), (req, res) => {
    const user = requireUser(req);
    res.json({ user: { id: user.id, username: user.username }, session: sessions.times(req) });
  });

  router.post('/password', requireSession(), async (req, res) => {
    const user = requireUser(req);
    requireJson(req);
    const { currentPassword, newPassword } = parseBody(passwordChangeSchema, req.body);
    // The current password is checked under the login throttle: a stolen session must not
    // become an unlimited password-guessing oracle.
    await authenticator.authenticate(user.username, currentPassword, {
      ip: req.ip ?? '',
      deviceToken: presentedDeviceToken(req, deviceCookieName),
      log: req.log,
      purpose: 'password_change',
    });
    const changed = await accounts.changePassword(user, newPassword, req.sessionID);
    // A fresh id for the session that made the change (its old record ends with it), carrying
    // the new credential version; every other session is already gone.
    await sessions.establish(req, changed.user);
    res.status(204).end();
  });

  router.post('/register', async (req, res) => {
    // 404 rather than 403: with sign-up off the endpoint simply does not exist.
    if (!signup.enabled) throw notFound('No such route.');
    requireJson(req);
    const { username, password } = parseBody(credentialsSchema, req.body);
    // Throttled per IP because this endpoint necessarily reveals which names are taken.
    const waitMs = await signup.limit.take(req.ip ?? '');
    if (waitMs !== undefined) throw tooManyAttempts(waitMs);
    const user = await accounts.create(username, password);
    await sessions.establish(req, user);
    req.log.info({ event: 'user.registered', userId: user.id, ip: req.ip }, 'user registered');
    res.status(201).json({ user: { id: user.id, username: user.username } });
  });

  return router;
}
