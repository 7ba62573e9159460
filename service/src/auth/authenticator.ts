import { AppError, invalidCredentials, tooManyAttempts } from '../errors.ts';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import type { User, UserRepository } from '../users/user-repository.ts';
import type { LoginThrottle } from './login-throttle.ts';
import type { PasswordHasher } from './password-hasher.ts';

/**
 * Checks a username + password under the brute-force throttle. Unknown users get the same
 * work (a decoy argon2 verify), the same counters and the same answer as a wrong password,
 * so neither the response nor its timing tells whether an account exists.
 */
export class Authenticator {
  private readonly users: UserRepository;
  private readonly hasher: PasswordHasher;
  private readonly throttle: LoginThrottle;
  private readonly metrics: Metrics;
  private readonly logger: Logger;

  constructor(users: UserRepository, hasher: PasswordHasher, throttle: LoginThrottle, metrics: Metrics, logger: Logger) {
    this.users = users;
    this.hasher = hasher;
    this.throttle = throttle;
    this.metrics = metrics;
    this.logger = logger;
  }

  /**
   * Returns the user on success. Throws 429 when throttled (even for the right password),
   * 401 on a wrong username or password, 503 busy when the hashing queue is full.
   * `purpose` only changes the log event names (login.* vs password_change.*).
   */
  async authenticate(username: string, password: string, ip: string, log: Logger = this.logger, purpose: 'login' | 'password_change' = 'login'): Promise<User> {
    const verdict = await this.throttle.reserve(username, ip);
    if (!verdict.allowed) {
      this.metrics.loginAttempts.inc({ result: 'throttled' });
      log.warn({ event: `${purpose}.throttled`, ip, retryAfterMs: verdict.retryAfterMs }, 'attempt throttled');
      throw tooManyAttempts(verdict.retryAfterMs);
    }

    const user = await this.users.findByUsername(username);
    let ok: boolean;
    try {
      ok = user ? await this.hasher.verify(user.passwordHash, password) : await this.hasher.verifyDecoy(password);
    } catch (error) {
      // Never judged (queue full, Redis away): the reserved failure is given back.
      await this.throttle.release(username, ip).catch(() => undefined);
      if (error instanceof AppError && error.code === 'busy') this.metrics.loginAttempts.inc({ result: 'busy' });
      throw error;
    }

    if (!user || !ok) {
      // Already counted by reserve().
      this.metrics.loginAttempts.inc({ result: 'failure' });
      // The user id only when the account exists; the attempted name is never logged raw
      // (users type passwords into the username field).
      log.info({ event: `${purpose}.failure`, ip, userId: user?.id, knownUser: user !== undefined }, 'authentication failed');
      throw invalidCredentials();
    }

    await this.throttle.recordSuccess(username, ip);
    await this.upgradeHashIfNeeded(user, password, log);
    return user;
  }

  /** Re-hash with the current parameters when the stored hash is weaker (OWASP). */
  private async upgradeHashIfNeeded(user: User, password: string, log: Logger): Promise<void> {
    if (!this.hasher.needsRehash(user.passwordHash)) return;
    try {
      const hash = await this.hasher.hash(password);
      await this.users.updatePasswordHash(user.id, hash, { passwordChanged: false });
      log.info({ event: 'user.rehashed', userId: user.id }, 'password hash upgraded to current parameters');
    } catch (error) {
      // The login itself succeeded; the upgrade is retried on the next login.
      log.warn({ err: error, event: 'user.rehash_failed', userId: user.id }, 'password re-hash failed');
    }
  }
}
