import { parse as parseCookies } from 'cookie';
import { sign, unsign } from 'cookie-signature';

export interface VerifiedCookie {
  sessionId: string;
  /** Which of SESSION_SECRETS verified it: 0 is the newest; more means an older one still in use. */
  secretIndex: number;
}

/** The raw value of one cookie in a Cookie header, or undefined. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header || !header.includes(name)) return undefined;
  try {
    return parseCookies(header)[name];
  } catch {
    return undefined;
  }
}

/**
 * Session cookies as express-session writes them ("s:" + cookie-signature over the id), verified
 * with every secret in SESSION_SECRETS (newest first). A value that verified is remembered (a
 * bounded LRU of exact cookie values), so a session's later requests skip the HMAC: safe,
 * because only values that verified are ever remembered and an entry is the same answer the
 * HMAC would give.
 */
export class SessionCookieVerifier {
  private readonly secrets: readonly string[];
  private readonly verified = new Map<string, VerifiedCookie>();
  private readonly capacity: number;

  constructor(secrets: readonly string[], capacity = 10_000) {
    this.secrets = secrets;
    this.capacity = capacity;
  }

  verify(raw: string | undefined): VerifiedCookie | undefined {
    if (!raw) return undefined;
    const known = this.verified.get(raw);
    if (known) {
      // Most recently used last (Map keeps insertion order: the first entry is evicted first).
      this.verified.delete(raw);
      this.verified.set(raw, known);
      return known;
    }
    if (!raw.startsWith('s:')) return undefined;
    const signed = raw.slice(2);
    for (let secretIndex = 0; secretIndex < this.secrets.length; secretIndex += 1) {
      const sessionId = unsign(signed, this.secrets[secretIndex]!);
      if (sessionId === false) continue;
      const result = { sessionId, secretIndex };
      this.verified.set(raw, result);
      if (this.verified.size > this.capacity) this.verified.delete(this.verified.keys().next().value!);
      return result;
    }
    return undefined;
  }

  /** A cookie value for the session, signed with the newest secret. */
  signed(sessionId: string): string {
    return `s:${sign(sessionId, this.secrets[0]!)}`;
  }
}
