import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../infra/clock.ts';
import type { User } from '../users/user-repository.ts';

export interface TrustedDevice {
  /** The device's random id: the subject of its own failure counter. */
  id: string;
}

/** What a device cookie is bound to: the account (its id, never its name) and its device generation. */
export type DeviceOwner = Pick<User, 'id' | 'deviceGeneration'>;

/**
 * Device cookies (OWASP, "Slow down online guessing attacks with device cookies"): a browser
 * that signed in as a user gets a signed token for that user. A login that presents a valid one
 * for the same user is judged by that device's own failure counter and a per-account counter of
 * device-path failures (auth/login-throttle.ts), never by the account-wide lockout that anonymous
 * clients trigger, so an attacker cannot lock a user out of the browsers they already use.
 *
 * Token: v2.<device id>.<issued, s>.<HMAC-SHA256 over those and the user's id and device
 * generation>. The cookie names nobody: the account it is bound to appears only inside the
 * keyed MAC, so no word list recovers it, and a name removed and registered again is another
 * account. A password change and "sign out everywhere else" move the user's device generation
 * (users/user-repository.ts), which ends every token issued before. Keys are derived from
 * SESSION_SECRETS: the first signs, every one verifies, so a rotation keeps devices trusted.
 */
export class DeviceTrust {
  private readonly keys: Buffer[];
  private readonly maxAgeMs: number;
  private readonly clock: Clock;

  constructor(deps: { secrets: readonly string[]; maxAgeMs: number; clock: Clock }) {
    this.keys = deps.secrets.map((secret) =>
      createHmac('sha256', secret).update('authstack device cookie v2').digest(),
    );
    this.maxAgeMs = deps.maxAgeMs;
    this.clock = deps.clock;
  }

  private mac(key: Buffer, payload: string, owner: DeviceOwner): Buffer {
    return createHmac('sha256', key).update(`${payload}\n${owner.id}\n${owner.deviceGeneration}`).digest();
  }

  /** A token for this browser and user: the device keeps its id when it already had one (a refresh). */
  issue(owner: DeviceOwner, deviceId = randomBytes(16).toString('base64url')): string {
    const payload = `v2.${deviceId}.${Math.floor(this.clock.now() / 1000)}`;
    return `${payload}.${this.mac(this.keys[0]!, payload, owner).toString('base64url')}`;
  }

  /** The device when the token is genuine, unexpired, and bound to this user's current generation. */
  verify(token: string | undefined, owner: DeviceOwner): TrustedDevice | undefined {
    if (!token || token.length > 200) return undefined;
    const parts = token.split('.');
    if (parts.length !== 4 || parts[0] !== 'v2') return undefined;
    const [, id, issued, mac] = parts as [string, string, string, string];
    const issuedMs = Number(issued) * 1000;
    if (
      !id ||
      !Number.isFinite(issuedMs) ||
      issuedMs > this.clock.now() + 60_000 ||
      this.clock.now() - issuedMs > this.maxAgeMs
    )
      return undefined;
    const presented = Buffer.from(mac, 'base64url');
    const payload = parts.slice(0, 3).join('.');
    const genuine = this.keys.some((key) => {
      const expected = this.mac(key, payload, owner);
      return presented.length === expected.length && timingSafeEqual(presented, expected);
    });
    return genuine ? { id } : undefined;
  }
}
