import { isIPv6 } from 'node:net';
import type { RedisKeys } from '../infra/redis-keys.ts';
import { normalizeUsername } from '../users/username.ts';
import type { TrustedDevice } from './device-trust.ts';
import type { Counter, FailureCounters } from './failure-counters.ts';

export interface ThrottleLimits {
  maxConsecutiveFailures: number;
  failureWindowMs: number;
  maxFailuresPerIpPerHour: number;
  maxFailuresPerAccountPerHour: number;
  maxDeviceFailuresPerAccountPerHour: number;
}

/** Which limit refused an attempt (metrics label and audit field). */
export type ThrottleLimit = 'user_ip' | 'ip' | 'account' | 'device' | 'device_account';

export interface ThrottleVerdict {
  allowed: boolean;
  /** When refused: the limit that did, and how long until it lets an attempt through. */
  limit?: ThrottleLimit;
  retryAfterMs: number;
  /** What this attempt reserved: settled by recordSuccess or release. */
  counters: Array<Counter<ThrottleLimit>>;
}

const HOUR_MS = 3_600_000;

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
 * Brute-force throttling (OWASP ASVS 2.2.1) with failure counters on Redis.
 *
 * An anonymous client (no device cookie for the account) is judged by three counters:
 *   - user_ip: consecutive failures per (account, client); a success resets it;
 *   - ip: failures per client per hour, across accounts (password spraying);
 *   - account: failures per account per hour, across clients (a distributed attack).
 * A trusted device (a valid device cookie for the account, DeviceTrust) is judged by two others:
 *   - device: consecutive failures of that device; a success resets it;
 *   - device_account: device-path failures per account per hour, across all its devices, so the
 *     judged guesses at an account stay bounded however many device cookies someone holds.
 * So the account lockout anonymous clients trigger never locks the user out of browsers they
 * already signed in from, and each kind of client has its own, bounded budget.
 *
 * Every attempt is counted before its password is checked (so parallel guesses cannot slip past
 * a limit), on all its counters or, when one refuses, on none: only attempts whose password was
 * actually checked count, and a refused attempt writes nothing. A success gives the hourly
 * counts back; an attempt never judged (busy, Redis away) gives everything back.
 * Unknown and existing accounts are counted alike (no enumeration). Every key is a digest of
 * what the client sent, so its size is fixed whatever the input (infra/redis-keys.ts).
 */
export class LoginThrottle {
  private readonly counters: FailureCounters;
  private readonly keys: RedisKeys;
  private readonly limits: ThrottleLimits;
  private readonly scope: string;

  constructor(deps: { counters: FailureCounters; keys: RedisKeys; limits: ThrottleLimits; scope?: string }) {
    this.counters = deps.counters;
    this.keys = deps.keys;
    this.limits = deps.limits;
    this.scope = deps.scope ?? 'login';
  }

  private countersFor(username: string, ip: string, device: TrustedDevice | undefined): Array<Counter<ThrottleLimit>> {
    const account = normalizeUsername(username);
    const client = clientBucket(ip);
    const counter = (
      name: ThrottleLimit,
      subject: string,
      limit: number,
      windowMs: number,
    ): Counter<ThrottleLimit> => ({
      name,
      key: this.keys.throttle(this.scope, name, subject),
      limit,
      windowMs,
    });
    const { maxConsecutiveFailures, failureWindowMs } = this.limits;
    if (device) {
      return [
        counter('device', device.id, maxConsecutiveFailures, failureWindowMs),
        counter('device_account', account, this.limits.maxDeviceFailuresPerAccountPerHour, HOUR_MS),
      ];
    }
    return [
      // JSON-encode the pair so no username can collide with another (username, client) pair.
      counter('user_ip', JSON.stringify([account, client]), maxConsecutiveFailures, failureWindowMs),
      counter('ip', client, this.limits.maxFailuresPerIpPerHour, HOUR_MS),
      counter('account', account, this.limits.maxFailuresPerAccountPerHour, HOUR_MS),
    ];
  }

  /** Reserves one failure on every counter of this attempt, unless one of them refuses it. */
  async reserve(username: string, ip: string, device?: TrustedDevice): Promise<ThrottleVerdict> {
    const counters = this.countersFor(username, ip, device);
    const { refusedBy, retryAfterMs } = await this.counters.reserve(counters);
    if (refusedBy) return { allowed: false, limit: refusedBy.name, retryAfterMs, counters: [] };
    return { allowed: true, retryAfterMs: 0, counters };
  }

  /** A success ends the run of consecutive failures and gives the hourly counts back. */
  async recordSuccess(verdict: ThrottleVerdict): Promise<void> {
    await this.counters.settle(
      verdict.counters.map((counter) => ({
        counter,
        action: counter.name === 'user_ip' || counter.name === 'device' ? 'reset' : 'refund',
      })),
    );
  }

  /** Gives a reservation back whose attempt was never judged (e.g. refused as busy). */
  async release(verdict: ThrottleVerdict): Promise<void> {
    await this.counters.settle(verdict.counters.map((counter) => ({ counter, action: 'refund' as const })));
  }
}

/** Sign-ups per client address and hour (the endpoint necessarily tells which names are taken). */
export class SignupLimit {
  private readonly counters: FailureCounters;
  private readonly keys: RedisKeys;
  private readonly perHour: number;

  constructor(deps: { counters: FailureCounters; keys: RedisKeys; perHour: number }) {
    this.counters = deps.counters;
    this.keys = deps.keys;
    this.perHour = deps.perHour;
  }

  /** Counts one sign-up; returns the wait in ms when the limit is reached, else undefined. */
  async take(ip: string): Promise<number | undefined> {
    const bucket = clientBucket(ip);
    const { refusedBy, retryAfterMs } = await this.counters.reserve([
      { name: 'ip', key: this.keys.throttle('signup', 'ip', bucket), limit: this.perHour, windowMs: HOUR_MS },
    ]);
    return refusedBy ? retryAfterMs : undefined;
  }
}
