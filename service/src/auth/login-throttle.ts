import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisClient } from '../infra/redis-client';
import { normalizeUsername } from '../users/username';

export interface ThrottleLimits {
  maxConsecutiveFailures: number;
  failureWindowMs: number;
  maxFailuresPerIpPerHour: number;
  maxFailuresPerAccountPerHour: number;
}

export interface ThrottleVerdict {
  allowed: boolean;
  /** When blocked: how long until the earliest blocking counter lets the attempt through. */
  retryAfterMs: number;
}

const HOUR_SECONDS = 3600;

/**
 * Brute-force throttling (OWASP ASVS 2.2.1) with three Redis counters, all counting failures:
 *   - (username, IP): consecutive failures; a success resets it. Stops guessing one account
 *     from one place, and keeps locking out a real user from elsewhere impossible.
 *   - IP: failures per hour across usernames (password spraying from one address).
 *   - account: failures per hour across IPs (a distributed attack on one account).
 * The account counter is keyed by the normalised username whether or not the user exists,
 * so throttling behaves the same for real and unknown accounts (no enumeration).
 */
export class LoginThrottle {
  private readonly byUserAndIp: RateLimiterRedis;
  private readonly byIp: RateLimiterRedis;
  private readonly byAccount: RateLimiterRedis;

  constructor(redis: RedisClient, prefix: string, private readonly limits: ThrottleLimits, scope = 'login') {
    const common = { storeClient: redis, useRedisPackage: true, inMemoryBlockOnConsumed: 0 };
    this.byUserAndIp = new RateLimiterRedis({
      ...common,
      keyPrefix: `${prefix}throttle:${scope}:user-ip`,
      points: limits.maxConsecutiveFailures,
      duration: Math.max(1, Math.ceil(limits.failureWindowMs / 1000)),
    });
    this.byIp = new RateLimiterRedis({ ...common, keyPrefix: `${prefix}throttle:${scope}:ip`, points: limits.maxFailuresPerIpPerHour, duration: HOUR_SECONDS });
    this.byAccount = new RateLimiterRedis({
      ...common,
      keyPrefix: `${prefix}throttle:${scope}:account`,
      points: limits.maxFailuresPerAccountPerHour,
      duration: HOUR_SECONDS,
    });
  }

  /** Checks without counting. Blocked once any counter has reached its limit. */
  async check(username: string, ip: string): Promise<ThrottleVerdict> {
    const keys = this.keys(username, ip);
    const [userIp, perIp, account] = await Promise.all([
      this.byUserAndIp.get(keys.userIp),
      this.byIp.get(keys.ip),
      this.byAccount.get(keys.account),
    ]);
    const blocking = [
      [userIp, this.limits.maxConsecutiveFailures],
      [perIp, this.limits.maxFailuresPerIpPerHour],
      [account, this.limits.maxFailuresPerAccountPerHour],
    ].filter(([res, limit]) => res !== null && (res as RateLimiterRes).consumedPoints >= (limit as number)) as Array<[RateLimiterRes, number]>;
    if (blocking.length === 0) return { allowed: true, retryAfterMs: 0 };
    return { allowed: false, retryAfterMs: Math.max(...blocking.map(([res]) => res.msBeforeNext)) };
  }

  /** Counts one failure on every counter. Over-limit rejections are expected, not errors. */
  async recordFailure(username: string, ip: string): Promise<void> {
    const keys = this.keys(username, ip);
    await Promise.all([
      consumeIgnoringLimit(this.byUserAndIp, keys.userIp),
      consumeIgnoringLimit(this.byIp, keys.ip),
      consumeIgnoringLimit(this.byAccount, keys.account),
    ]);
  }

  /** A success ends the run of consecutive failures for this (username, IP). */
  async recordSuccess(username: string, ip: string): Promise<void> {
    await this.byUserAndIp.delete(this.keys(username, ip).userIp);
  }

  private keys(username: string, ip: string) {
    const account = normalizeUsername(username);
    // JSON-encode the pair so no username can collide with another (username, ip) pair.
    return { userIp: JSON.stringify([account, ip]), ip, account };
  }
}

async function consumeIgnoringLimit(limiter: RateLimiterRedis, key: string): Promise<void> {
  try {
    await limiter.consume(key);
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return; // already over the limit: still counted
    throw rejection;
  }
}

/** A plain per-key limiter for registrations per IP. */
export class IpRateLimit {
  private readonly limiter: RateLimiterRedis;

  constructor(redis: RedisClient, keyPrefix: string, points: number, durationSeconds: number) {
    this.limiter = new RateLimiterRedis({ storeClient: redis, useRedisPackage: true, keyPrefix, points, duration: durationSeconds });
  }

  /** Consumes one point; returns the wait in ms when the limit is exceeded, else undefined. */
  async take(ip: string): Promise<number | undefined> {
    try {
      await this.limiter.consume(ip);
      return undefined;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return rejection.msBeforeNext;
      throw rejection;
    }
  }
}
