import { parse as parseCookies } from 'cookie';
import { unsign } from 'cookie-signature';

export type CookieSecretMatch = 'current' | 'fallback' | 'none' | 'absent';

/**
 * Which secret a session cookie verifies with. express-session signs with secrets[0] and
 * verifies with all of them; knowing that only an older secret matched tells operators the
 * old secret is still in use. With `rolling`, the next response re-signs the cookie with the
 * newest secret, so after one visit the fallback is no longer needed for that user.
 */
export function matchCookieSecret(cookieHeader: string | undefined, cookieName: string, secrets: readonly string[]): CookieSecretMatch {
  if (!cookieHeader) return 'absent';
  let raw: string | undefined;
  try {
    raw = parseCookies(cookieHeader)[cookieName];
  } catch {
    return 'none';
  }
  if (raw === undefined) return 'absent';
  if (!raw.startsWith('s:')) return 'none';
  const signed = raw.slice(2);
  if (secrets.length > 0 && unsign(signed, secrets[0]!) !== false) return 'current';
  return secrets.slice(1).some((secret) => unsign(signed, secret) !== false) ? 'fallback' : 'none';
}
