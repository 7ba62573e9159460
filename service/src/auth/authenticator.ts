import { AppError, invalidCredentials, tooManyAttempts } from '../errors.ts';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import type { User, UserRepository } from '../users/user-repository.ts';
import type { DeviceTrust } from './device-trust.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { PasswordHasher } from './password-hasher.ts';

export interface AttemptContext {
  /** The client address (req.ip under the trusted edge). */
  ip: string;
  /** The device cookie the browser presented, if any. */
  deviceToken?: string;
  log?: Logger;
  /** Only changes the log event names (login.* vs password_change.*). */
  purpose?: 'login' | 'password_change';
}

export interface Authenticated {
  user: User;
  /** The device cookie value for this browser and user: fresh, or the presented one refreshed. */
  deviceToken: string;
  /** The device the browser was trusted as, when it presented a valid device cookie. */
  deviceId?: string;
}

/**
 * Checks a username + password under the brute-force throttle. Unknown users get the same
 * work (a decoy argon2 verify), the same counters and the same answer as a wrong password,
 * so neither the response nor its timing tells whether an account exists.
 */
export class Authenticator {
  private readonly users: UserRepository;
  private readonly hasher: PasswordHasher;
  private readonly throttle: LoginThrottle;
  private readonly devices: DeviceTrust;
  private readonly metrics: Metrics;
  private readonly logger: Logger;

  constructor(deps: {
    users: UserRepository;
    hasher: PasswordHasher;
    throttle: LoginThrottle;
    devices: DeviceTrust;
    metrics: Metrics;
    logger: Logger;
  }) {
    this.users = deps.users;
    this.hasher = deps.hasher;
    this.throttle = deps.throttle;
    this.devices = deps.devices;
    this.metrics = deps.metrics;
    this.logger = deps.logger;
  }

  /**
   * Returns the user (and a fresh device token) on success. Throws 429 when throttled (even
   * for the right password), 401 on a wrong username or password, 503 busy when the hashing
   * queue is full.
   */
  async authenticate(username: string, password: string, context: AttemptContext): Promise<Authenticated> {
    const { ip, purpose = 'login' } = context;
    const log = context.log ?? this.logger;
    try {
      this.hasher.assertCapacity();
    } catch (error) {
      this.metrics.loginAttempts.inc({ result: 'busy' });
      throw error;
    }
    // A device cookie is bound to an account and its device generation, so with one the user is
    // looked up first; without one (every anonymous guess) only once the throttle let it through.
    const withDevice = context.deviceToken !== undefined;
    let user = withDevice ? await this.users.findByUsername(username) : undefined;
    const device = user ? this.devices.verify(context.deviceToken, user) : undefined;
    const verdict = await this.throttle.reserve(username, ip, device);
    if (!verdict.allowed) {
      this.metrics.loginAttempts.inc({ result: 'throttled' });
      this.metrics.loginThrottled.inc({ limit: verdict.limit });
      log.warn(
        {
          event: `${purpose}.throttled`,
          ip,
          limit: verdict.limit,
          trustedDevice: device !== undefined,
          retryAfterMs: verdict.retryAfterMs,
        },
        'attempt throttled',
      );
      throw tooManyAttempts(verdict.retryAfterMs);
    }

    if (!withDevice) user = await this.users.findByUsername(username);
    let ok: boolean;
    try {
      ok = user ? await this.hasher.verify(user.passwordHash, password) : await this.hasher.verifyDecoy(password);
    } catch (error) {
      // Never judged (queue full, Redis away): the reservation is given back.
      await this.throttle.release(verdict).catch(() => undefined);
      if (error instanceof AppError && error.code === 'busy') this.metrics.loginAttempts.inc({ result: 'busy' });
      throw error;
    }

    if (!user || !ok) {
      // Already counted by reserve().
      this.metrics.loginAttempts.inc({ result: 'failure' });
      // The user id only when the account exists; the attempted name is never logged raw
      // (users type passwords into the username field).
      log.info(
        {
          event: `${purpose}.failure`,
          ip,
          userId: user?.id,
          knownUser: user !== undefined,
          trustedDevice: device !== undefined,
        },
        'authentication failed',
      );
      throw invalidCredentials();
    }

    await this.throttle.recordSuccess(verdict);
    await this.upgradeHashIfNeeded(user, password, log);
    // One token per browser and user: a trusted device's token is refreshed, not multiplied.
    return { user, deviceId: device?.id, deviceToken: this.devices.issue(user, device?.id) };
  }

  /**
   * Re-hash with the current parameters when the stored hash is weaker (OWASP). The write is a
   * compare-and-set against the hash that was verified: a password change that landed since
   * (its new hash, its credential version) is never undone by this upgrade.
   */
  private async upgradeHashIfNeeded(user: User, password: string, log: Logger): Promise<void> {
    if (!this.hasher.needsRehash(user.passwordHash)) return;
    try {
      const hash = await this.hasher.hash(password);
      const written = await this.users.replaceHashIfUnchanged(user.id, user.passwordHash, hash);
      if (written)
        log.info({ event: 'user.rehashed', userId: user.id }, 'password hash upgraded to current parameters');
      else log.info({ event: 'user.rehash_skipped', userId: user.id }, 'password changed meanwhile; re-hash dropped');
    } catch (error) {
      // The login itself succeeded; the upgrade is retried on the next login.
      log.warn({ err: error, event: 'user.rehash_failed', userId: user.id }, 'password re-hash failed');
    }
  }
}
