import type { Request, Response } from 'express';
import type { Accounts } from '../../auth/accounts.ts';
import type { DeviceTrust } from '../../auth/device-trust.ts';
import type { SessionManager, SessionUser } from '../../sessions/session-manager.ts';
import type { DeviceCookie } from './device-cookie.ts';

export interface RevocationFlow {
  /**
   * "Sign out everywhere else": ends every other session of the signed-in user, and every device
   * cookie of theirs but this browser's, which is re-issued.
   */
  revokeOthers(req: Request, res: Response, user: SessionUser): Promise<number>;
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
export function createRevocationFlow(deps: {
  sessions: SessionManager;
  accounts: Accounts;
  devices: DeviceTrust;
  deviceCookie: DeviceCookie;
  clearSessionCookie: (res: Response) => void;
}): RevocationFlow {
  const { sessions, accounts, devices, deviceCookie, clearSessionCookie } = deps;
  return {
    async revokeOthers(req, res, user) {
      const { deviceGeneration, revoked } = await accounts.signOutElsewhere(user, req.sessionID);
      // This browser keeps its trust (the same device id), bound to the new generation.
      const device = devices.verify(deviceCookie.presented(req), {
        id: user.id,
        deviceGeneration: deviceGeneration - 1,
      });
      if (device) deviceCookie.set(req, res, devices.issue({ id: user.id, deviceGeneration }, device.id));
      req.log.info({ event: 'sessions.revoked_others', userId: user.id, count: revoked }, 'other sessions revoked');
      return revoked;
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
