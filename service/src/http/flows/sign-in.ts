import type { Request, Response } from 'express';
import type { Authenticator } from '../../auth/authenticator.ts';
import type { Metrics } from '../../infra/metrics.ts';
import type { SessionManager } from '../../sessions/session-manager.ts';
import type { User } from '../../users/user-repository.ts';
import { credentialsSchema, parseBody } from '../request-body.ts';
import type { DeviceCookie } from './device-cookie.ts';

export interface SignInFlow {
  /** Validates the body, authenticates under the throttle and starts a fresh session. */
  signIn(req: Request, res: Response): Promise<User>;
  /** Ends the session (if any) and clears the cookie. */
  signOut(req: Request, res: Response): Promise<void>;
}

/** Login and logout, shared by the JSON API and the HTML forms so both audit the same way. */
export function createSignInFlow(deps: {
  authenticator: Authenticator;
  sessions: SessionManager;
  metrics: Metrics;
  clearSessionCookie: (res: Response) => void;
  deviceCookie: DeviceCookie;
}): SignInFlow {
  const { authenticator, sessions, metrics, clearSessionCookie, deviceCookie } = deps;
  return {
    async signIn(req, res) {
      const { username, password } = parseBody(credentialsSchema, req.body);
      const { user, deviceToken } = await authenticator.authenticate(username, password, {
        ip: req.ip ?? '',
        deviceToken: deviceCookie.presented(req),
        log: req.log,
      });
      await sessions.establish(req, user);
      // From now on this browser is a trusted device for this user (login throttling).
      deviceCookie.set(req, res, deviceToken);
      metrics.loginAttempts.inc({ result: 'success' });
      req.log.info({ event: 'login.success', userId: user.id, ip: req.ip }, 'login succeeded');
      return user;
    },
    async signOut(req, res) {
      const user = req.user;
      if (req.session?.userId) await sessions.end(req, 'logout');
      clearSessionCookie(res);
      if (user) req.log.info({ event: 'logout', userId: user.id, ip: req.ip }, 'logged out');
    },
  };
}
