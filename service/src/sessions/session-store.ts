import { RedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import type { Config } from '../config/config.ts';
import type { Clock } from '../infra/clock.ts';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import { LuaScript } from '../infra/lua-script.ts';
import type { RedisClient } from '../infra/redis-client.ts';
import type { RedisKeys } from '../infra/redis-keys.ts';
import './session-types.ts';

/**
 * A new session: written only while the user exists with this credential version, indexed in
 * the same step, and the user's index pruned and capped in that step too (dead members: deadline
 * passed or record expired; then the oldest beyond the cap are ended). One round trip whatever
 * the user's history, and at most cap + 1 members are ever looked at.
 *   KEYS  session key, index key, user key
 *   ARGV  member, record, ttl ms, credential version, absolute deadline, now, cap, session key prefix
 *   ->    {1, evicted member...} or {0} when refused (user removed or password changed meanwhile)
 */
const CREATE = new LuaScript(`
if (redis.call('HGET', KEYS[3], 'credentialVersion') or redis.call('HGET', KEYS[3], 'passwordChangedAt')) ~= ARGV[4] then return {0} end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', ARGV[6])
local live = {}
for _, m in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', ARGV[8] .. m) == 1 then table.insert(live, m) else redis.call('ZREM', KEYS[2], m) end
end
local result = {1}
local excess = #live - tonumber(ARGV[7])
local i = 1
while excess > 0 and i <= #live do
  if live[i] ~= ARGV[1] then
    redis.call('ZREM', KEYS[2], live[i])
    redis.call('DEL', ARGV[8] .. live[i])
    table.insert(result, live[i])
    excess = excess - 1
  end
  i = i + 1
end
local latest = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
if latest[2] then redis.call('PEXPIREAT', KEYS[2], latest[2]) end
return result
`);

/** Ends sessions: index members and records go together.  KEYS index key, session keys  ARGV members */
const REVOKE = new LuaScript(`
local removed = 0
for i = 1, #ARGV do
  removed = removed + redis.call('ZREM', KEYS[1], ARGV[i])
  redis.call('DEL', KEYS[i + 1])
end
return removed
`);

/** The user is gone or their password changed between the check and the write. */
export class SessionRefusedError extends Error {
  constructor() {
    super('session refused: the user was removed or changed their password meanwhile');
    this.name = 'SessionRefusedError';
  }
}

type Callback = (err?: unknown) => void;

/**
 * The session store: connect-redis's RedisStore, doing its own work where that is enough (the
 * key prefix, JSON records, `get` (one GET), `destroy` (DEL), no `touch` (a read never
 * writes), and `all`, `ids`, `length` and `clear` (SCAN over the prefix)). connect-redis's own
 * test cases run against this class (service/test/sessions/session-store.test.ts).
 *
 * The rule that makes a plain GET enough: a session record exists exactly while its session is
 * valid. Every write keeps it so:
 *  - a new session is written by `create` (CREATE: only while its user exists with the
 *    credential version it signed in with, indexed under the user, the user's cap applied);
 *  - a change is `set` with SET ... XX: it never brings back a record that is gone;
 *  - revocation, logout and the cap delete record and index entry together (REVOKE, CREATE);
 *    a password change and a user's removal end every session of the user in the same script
 *    as the change itself (users/user-repository.ts), so neither a login in flight nor a Redis
 *    failover can keep a session from before;
 *  - Redis expires each record at its own idle or absolute deadline.
 * Keys are the digest of the session id (infra/redis-keys.ts): no live token rests in Redis or
 * in a backup, so reading Redis does not let anyone sign in; `ids` and `all` therefore name
 * sessions by that digest. A session's TTL is its own deadline, not its cookie's expiry.
 */
export class SessionStore extends RedisStore {
  private readonly redis: RedisClient;
  private readonly keys: RedisKeys;
  private readonly session: Config['session'];
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly metrics: Metrics;
  private readonly replicated: () => Promise<void>;

  constructor(deps: {
    redis: RedisClient;
    keys: RedisKeys;
    session: Config['session'];
    clock: Clock;
    logger: Logger;
    metrics: Metrics;
    replicated?: () => Promise<void>;
  }) {
    super({ client: deps.redis, prefix: deps.keys.sessionPrefix(), disableTouch: true });
    // No touch at all. A read writes nothing (the idle clock moves by an explicit save), so
    // connect-redis's touch is disabled; and express-session computes a change hash of the
    // session on every unsaved request only to decide whether to call a store's touch. It asks
    // `typeof store.touch === 'function'`, and touch is an optional method of a store, so a
    // store without one saves that hash (one of the four it computes on a signed-in read).
    Object.defineProperty(this, 'touch', { value: undefined });
    this.redis = deps.redis;
    this.keys = deps.keys;
    this.session = deps.session;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.metrics = deps.metrics;
    this.replicated = deps.replicated ?? (async () => undefined);
  }

  /** The key layout (the manager derives session members with it). */
  keysFor(): RedisKeys {
    return this.keys;
  }

  /** Milliseconds a record should live: until its idle or absolute deadline. */
  ttlMs(sess: Partial<SessionData>): number {
    const now = this.clock.now();
    const deadline = Math.min(
      (sess.lastSeenAt ?? now) + this.session.idleTimeoutMs,
      (sess.createdAt ?? now) + this.session.absoluteTimeoutMs,
    );
    return deadline - now;
  }

  /**
   * A valid session's record, or null (express-session then starts a fresh, empty session):
   * connect-redis's own read, one GET, since a record exists only while its session is valid
   * (the write side above). A session past its idle or absolute deadline by the service's clock
   * is no session: it is ended here, with an audit line (Redis's TTL, set from the same
   * deadlines, removes records nobody asks for).
   */
  override async get(sid: string, cb?: (err: unknown, data?: SessionData | null) => void) {
    try {
      const member = this.keys.sessionMember(sid);
      let data = (await super.get(member)) as SessionData | null;
      if (data) {
        const passed = this.deadlinePassed(data);
        if (passed) {
          await this.revoke(data.userId, [member]);
          this.metrics.sessionsRevoked.inc({ reason: passed });
          this.logger.info({ event: 'session.expired', reason: passed, userId: data.userId }, 'session expired');
          data = null;
        }
      }
      if (cb) return cb(null, data);
      return data;
    } catch (error) {
      if (cb) return cb(error, null);
      throw error;
    }
  }

  /** Which deadline a session has passed, by the service's clock, if any. */
  private deadlinePassed(sess: SessionData): 'idle_timeout' | 'absolute_timeout' | undefined {
    const now = this.clock.now();
    if (now - sess.createdAt >= this.session.absoluteTimeoutMs) return 'absolute_timeout';
    if (now - sess.lastSeenAt >= this.session.idleTimeoutMs) return 'idle_timeout';
    return undefined;
  }

  /**
   * Writes a new session, indexed under its user, while the user exists with this credential
   * version; the user's oldest sessions beyond `cap` end in the same step. Returns the members
   * it ended. Throws SessionRefusedError when the user was removed or changed their password.
   */
  async create(sid: string, sess: SessionData, cap: number): Promise<{ evicted: string[] }> {
    const member = this.keys.sessionMember(sid);
    const keys = [this.keys.session(member), this.keys.userSessions(sess.userId), this.keys.user(sess.userId)];
    const reply = (await CREATE.run(this.redis, keys, [
      member,
      JSON.stringify(sess),
      Math.max(1, this.ttlMs(sess)),
      sess.credentialVersion,
      sess.createdAt + this.session.absoluteTimeoutMs,
      this.clock.now(),
      cap,
      this.keys.sessionPrefix(),
    ])) as Array<number | string>;
    if (reply[0] !== 1) throw new SessionRefusedError();
    // A login must survive a failover: wait for a replica (Sentinel only).
    await this.replicated();
    return { evicted: reply.slice(1) as string[] };
  }

  /**
   * Saves a change to an existing session (its idle clock moved): SET ... XX, so it never
   * creates one. A session that was revoked, ended by a password change, evicted by the cap or
   * expired has no record any more, and a request that was in flight meanwhile cannot write it
   * back. A session past its deadline is deleted, as connect-redis deletes one whose cookie
   * expired.
   */
  override async set(sid: string, sess: SessionData, cb?: Callback) {
    try {
      if (!sess.userId) throw new Error('refusing to store a session without a user');
      const member = this.keys.sessionMember(sid);
      const ttl = this.ttlMs(sess);
      if (ttl <= 0) await this.revoke(sess.userId, [member]);
      else
        await this.redis.set(this.keys.session(member), JSON.stringify(sess), {
          expiration: { type: 'PX', value: ttl },
          condition: 'XX',
        });
      cb?.();
    } catch (error) {
      // Moving the idle clock is best effort: a failed write must not fail a read (the record
      // keeps its deadline; with Redis full or away the request still gets its answer).
      this.logger.warn({ err: error, event: 'session.touch_failed' }, 'could not update the session record');
      cb?.();
    }
  }

  override async destroy(sid: string, cb?: Callback) {
    try {
      await super.destroy(this.keys.sessionMember(sid));
      // A logout must survive a failover too: a lost delete would bring the session back.
      await this.replicated();
      cb?.();
    } catch (error) {
      cb?.(error);
    }
  }

  /** Ends the given sessions of a user atomically; returns how many were still there. */
  async revoke(userId: string, members: string[]): Promise<number> {
    if (members.length === 0) return 0;
    const keys = [this.keys.userSessions(userId), ...members.map((m) => this.keys.session(m))];
    const revoked = Number(await REVOKE.run(this.redis, keys, members));
    // Revocation is final, also across a failover: wait for the replica as for a new session.
    await this.replicated();
    return revoked;
  }

  /** The user's indexed session members, oldest first. */
  members(userId: string): Promise<string[]> {
    return this.redis.zRange(this.keys.userSessions(userId), 0, -1);
  }

  /** Records for the members (null where a record expired). */
  async records(members: string[]): Promise<Array<SessionData | null>> {
    if (members.length === 0) return [];
    const raw = await this.redis.mGet(members.map((m) => this.keys.session(m)));
    return raw.map((value) => (value ? (JSON.parse(value) as SessionData) : null));
  }
}
