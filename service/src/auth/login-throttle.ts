import { isIPv6 } from 'node:net';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { RedisClient } from '../infra/redis-client.ts';
import type { RedisKeys } from '../infra/redis-keys.ts';
import { normalizeUsername } from '../users/username.ts';

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
 * The throttle key of a client address. An IPv6 client usually holds a whole /64 and can
 * rotate through it at will, so IPv6 is bucketed by its /64 prefix; IPv4 (also when written
 * IPv4-mapped, ::ffff:a.b.c.d) by the address.
 */
export function clientBucket(ip: string): string {
  const address = ip.split('%')[0]!; // a zone id (fe80::1%eth0) is not part of the address
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1]!;
  if (!isIPv6(address)) return address;
  return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, lower-case hex without leading zeros. */
function expandIPv6(address: string): string[] {
  const hex = (n: number) => n.toString(16);
  const withoutV4 = address.replace(
    /(\d+)\.(\d+)\.(\d+)\.(\d+)$/,
    (_m, a: string, b: string, c: string, d: string) => `${hex((+a << 8) | +b)}:${hex((+c << 8) | +d)}`,
  );
  const [head = '', tail] = withoutV4.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups].map((g) => hex(parseInt(g, 16)));
}

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

  constructor(redis: RedisClient, keys: RedisKeys, limits: ThrottleLimits, scope = 'login') {
    const common = { storeClient: redis, useRedisPackage: true, inMemoryBlockOnConsumed: 0 };
    this.byUserAndIp = new RateLimiterRedis({
      ...common,
      keyPrefix: keys.throttle(scope, 'user-ip'),
      points: limits.maxConsecutiveFailures,
      duration: Math.max(1, Math.ceil(limits.failureWindowMs / 1000)),
    });
    this.byIp = new RateLimiterRedis({ ...common, keyPrefix: keys.throttle(scope, 'ip'), points: limits.maxFailuresPerIpPerHour, duration: HOUR_SECONDS });
    this.byAccount = new RateLimiterRedis({
      ...common,
      keyPrefix: keys.throttle(scope, 'account'),
      points: limits.maxFailuresPerAccountPerHour,
      duration: HOUR_SECONDS,
    });
  }

  /**
   * Counts this attempt as a failure on every counter BEFORE the password is checked, so
   * parallel guesses cannot all pass a check that the first failure has not updated yet.
   * Blocked once any counter is past its limit; the caller refunds the reservation when the
   * attempt turns out to succeed (recordSuccess) or is never judged (release).
   */
  async reserve(username: string, ip: string): Promise<ThrottleVerdict> {
    const keys = this.keys(username, ip);
    const results = await Promise.all([
      consumeOrRejection(this.byUserAndIp, keys.userIp),
      consumeOrRejection(this.byIp, keys.ip),
      consumeOrRejection(this.byAccount, keys.account),
    ]);
    const blocking = results.filter((r): r is RateLimiterRes => r !== undefined);
    if (blocking.length === 0) return { allowed: true, retryAfterMs: 0 };
    return { allowed: false, retryAfterMs: Math.max(...blocking.map((r) => r.msBeforeNext)) };
  }

  /** A success ends the run of consecutive failures and returns the reserved hourly points. */
  async recordSuccess(username: string, ip: string): Promise<void> {
    const keys = this.keys(username, ip);
    await Promise.all([this.byUserAndIp.delete(keys.userIp), this.byIp.reward(keys.ip), this.byAccount.reward(keys.account)]);
  }

  /** Returns a reservation whose attempt was never judged (e.g. refused as busy). */
  async release(username: string, ip: string): Promise<void> {
    const keys = this.keys(username, ip);
    await Promise.all([this.byUserAndIp.reward(keys.userIp), this.byIp.reward(keys.ip), this.byAccount.reward(keys.account)]);
  }

  private keys(username: string, ip: string) {
    const account = normalizeUsername(username);
    const client = clientBucket(ip);
    // JSON-encode the pair so no username can collide with another (username, ip) pair.
    return { userIp: JSON.stringify([account, client]), ip: client, account };
  }
}

/** Consumes one point; the RateLimiterRes when that went past the limit, else undefined. */
async function consumeOrRejection(limiter: RateLimiterRedis, key: string): Promise<RateLimiterRes | undefined> {
  try {
    await limiter.consume(key);
    return undefined;
  } catch (rejection) {
    if (rejection instanceof RateLimiterRes) return rejection; // over the limit (still counted)
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
      await this.limiter.consume(clientBucket(ip));
      return undefined;
    } catch (rejection) {
      if (rejection instanceof RateLimiterRes) return rejection.msBeforeNext;
      throw rejection;
    }
  }
}
