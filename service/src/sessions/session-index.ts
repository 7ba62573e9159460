import { createHash } from 'node:crypto';
import type { RedisClient } from '../infra/redis-client.ts';
import type { Clock } from '../infra/clock.ts';
import type { RedisKeys } from '../infra/redis-keys.ts';

/**
 * Per-user index of live sessions: a sorted set <prefix>user-sessions:<userId> of session
 * ids, scored by each session's absolute deadline. Members are pruned when their deadline
 * passes or their session key is gone (idle expiry, eviction, revocation), on every add and
 * list, so the set never holds more than the user's live sessions plus those that ended
 * since the last visit. The key itself expires with the latest deadline, so a user who
 * never returns leaves nothing behind.
 */
/** How long a freshly indexed session may go without its record before it counts as dead. */
const SAVE_GRACE_MS = 10_000;

export class SessionIndex {
  private readonly redis: RedisClient;
  private readonly keys: RedisKeys;
  private readonly absoluteTimeoutMs: number;
  private readonly clock: Clock;

  constructor(redis: RedisClient, keys: RedisKeys, absoluteTimeoutMs: number, clock: Clock) {
    this.redis = redis;
    this.keys = keys;
    this.absoluteTimeoutMs = absoluteTimeoutMs;
    this.clock = clock;
  }

  key(userId: string) {
    return this.keys.userSessions(userId);
  }

  async add(userId: string, sessionId: string, absoluteDeadline: number): Promise<void> {
    const key = this.key(userId);
    await this.redis.zAdd(key, { score: absoluteDeadline, value: sessionId });
    await this.prune(userId);
    // The index lives exactly as long as its longest-lived session could.
    const [latest] = await this.redis.zRangeWithScores(key, -1, -1);
    if (latest) await this.redis.pExpireAt(key, latest.score);
  }

  async remove(userId: string, sessionIds: string[]): Promise<void> {
    if (sessionIds.length > 0) await this.redis.zRem(this.key(userId), sessionIds);
  }

  async contains(userId: string, sessionId: string): Promise<boolean> {
    const score = await this.redis.zScore(this.key(userId), sessionId);
    return score !== null && score > this.clock.now();
  }

  /** Live session ids of a user, after pruning dead members. */
  async sessionIds(userId: string): Promise<string[]> {
    return this.prune(userId);
  }

  async size(userId: string): Promise<number> {
    return this.redis.zCard(this.key(userId));
  }

  private async prune(userId: string): Promise<string[]> {
    const key = this.key(userId);
    const now = this.clock.now();
    await this.redis.zRemRangeByScore(key, '-inf', now);
    const members = await this.redis.zRangeWithScores(key, 0, -1);
    if (members.length === 0) return [];
    // A session is indexed just before its record is saved: a member younger than the grace
    // period may simply not be written yet, so only older members without a record are dead.
    const youngAfter = now + this.absoluteTimeoutMs - SAVE_GRACE_MS;
    const exists = await Promise.all(members.map((m) => (m.score > youngAfter ? Promise.resolve(1) : this.redis.exists(this.keys.session(m.value)))));
    const dead = members.filter((_, i) => exists[i] === 0).map((m) => m.value);
    await this.remove(userId, dead);
    return members.filter((_, i) => exists[i] !== 0).map((m) => m.value);
  }
}

/** The public handle of a session: a hash of its id, so the API never exposes the token. */
export function sessionHandle(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('base64url').slice(0, 22);
}
