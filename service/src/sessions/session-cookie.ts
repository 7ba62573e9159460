import { createHash } from 'node:crypto';
import type { CookieOptions } from 'express';
import type { Config } from '../config/config.ts';

/**
 * The session cookie's attributes, in one place: express-session sets it with these and logout
 * clears it with the same ones (a browser only drops a cookie whose Path and flags match).
 * HttpOnly keeps it from scripts; Secure + the __Host- name (config) pin it to HTTPS, this host
 * and Path=/; SameSite=Lax is the second CSRF layer behind the cross-origin guard.
 */
export function sessionCookieOptions(session: Config['session']): CookieOptions & { maxAge: number } {
  const { cookieSecure: secure, cookieDomain: domain, idleTimeoutMs: maxAge } = session;
  return { httpOnly: true, secure, sameSite: 'lax', path: '/', maxAge, ...(domain ? { domain } : {}) };
}

/**
 * The device cookie (auth/device-trust.ts): the same pinning as the session cookie, and
 * SameSite=Strict, because only our own login form and API ever need it.
 */
export function deviceCookieOptions(config: {
  session: Config['session'];
  device: Config['device'];
}): CookieOptions & { maxAge: number } {
  // Never for the parent domain: only this host's login form reads it (__Host-device).
  const { domain: _parent, ...hostOnly } = sessionCookieOptions(config.session);
  return { ...hostOnly, sameSite: 'strict', maxAge: config.device.maxAgeMs };
}

/**
 * A short, one-way name for the secret that signs new cookies (the first of SESSION_SECRETS):
 * what a session record keeps of the secret its cookie was signed with, never the secret.
 */
export function signingSecretId(session: Pick<Config['session'], 'secrets'>): string {
  return createHash('sha256')
    .update(`authstack session secret id\n${session.secrets[0]!}`)
    .digest('base64url')
    .slice(0, 12);
}
