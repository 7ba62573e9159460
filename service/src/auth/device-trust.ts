import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../infra/clock.ts';
import { digest } from '../infra/redis-keys.ts';
import { normalizeUsername } from '../users/username.ts';

export interface TrustedDevice {
  /** The device's random id: the subject of its own failure counter. */
  id: string;
}

/**
 * Device cookies (OWASP, "Slow down online guessing attacks with device cookies"): a browser
 * that signed in as a user gets a signed token naming that user. A login that presents a valid
 * one for the same user is judged by that device's own failure counter only, never by the
 * account-wide lockout that anonymous clients trigger, so an attacker cannot lock a user out
 * of the browsers they already use.
 *
 * Token: v1.<user tag>.<device id>.<issued, s>.<HMAC-SHA256>. The user tag is a digest of the
 * normalized username (the cookie does not say who signed in). Keys are derived from
 * SESSION_SECRETS: the first signs, every one verifies, so rotation keeps devices trusted.
 */
export class DeviceTrust {
  private readonly keys: Buffer[];
  private readonly maxAgeMs: number;
  private readonly clock: Clock;

  constructor(secrets: readonly string[], maxAgeMs: number, clock: Clock) {
    this.keys = secrets.map((secret) => createHmac('sha256', secret).update('authstack device cookie v1').digest());
    this.maxAgeMs = maxAgeMs;
    this.clock = clock;
  }

  private static tag(username: string): string {
    return digest(`device-user:${normalizeUsername(username)}`).slice(0, 22);
  }

  private mac(key: Buffer, payload: string): Buffer {
    return createHmac('sha256', key).update(payload).digest();
  }

  issue(username: string): string {
    const payload = `v1.${DeviceTrust.tag(username)}.${randomBytes(16).toString('base64url')}.${Math.floor(this.clock.now() / 1000)}`;
    return `${payload}.${this.mac(this.keys[0]!, payload).toString('base64url')}`;
  }

  /** The device when the token is genuine, unexpired and was issued for this username. */
  verify(token: string | undefined, username: string): TrustedDevice | undefined {
    if (!token || token.length > 200) return undefined;
    const parts = token.split('.');
    if (parts.length !== 5 || parts[0] !== 'v1') return undefined;
    const [, tag, id, issued, mac] = parts as [string, string, string, string, string];
    if (tag !== DeviceTrust.tag(username)) return undefined;
    const issuedMs = Number(issued) * 1000;
    if (!Number.isFinite(issuedMs) || issuedMs > this.clock.now() + 60_000 || this.clock.now() - issuedMs > this.maxAgeMs) return undefined;
    const presented = Buffer.from(mac, 'base64url');
    const payload = parts.slice(0, 4).join('.');
    const genuine = this.keys.some((key) => {
      const expected = this.mac(key, payload);
      return presented.length === expected.length && timingSafeEqual(presented, expected);
    });
    return genuine ? { id } : undefined;
  }
}
