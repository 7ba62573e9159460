import { RedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import type { Config } from '../config/config.ts';
import type { Clock } from '../infra/clock.ts';
import type { Logger } from '../infra/logger.ts';
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
if redis.call('HGET', KEYS[3], 'passwordChangedAt') ~= ARGV[4] then return {0} end
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

/**
 * A change to an existing session (its idle clock moved, say): written only while the session is
 * still in the user's index and the user's password has not changed since it began, and never
 * re-created once its record expired. So a request that was in flight during a logout, a
 * revocation or a password change cannot write a revoked session back: the record existing is
 * proof the session is valid, and a read needs nothing else.
 *   KEYS  session key, index key, user key    ARGV  member, record, ttl ms, credential version
 */
const UPDATE = new LuaScript(`
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then return 0 end
if redis.call('HGET', KEYS[3], 'passwordChangedAt') ~= ARGV[4] then return 0 end
if not redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3], 'XX') then return 0 end
return 1
`);

/**
 * The read of every signed-in request, in one round trip: the record, returned only while the
 * session is still in its user's index (not revoked) and the user's password has not changed
 * since it began (credential version); a record that fails either is deleted. The write-side
 * scripts already keep such records from existing; this checks it again on every request.
 * The user's keys follow from the record's userId (so the script names keys it was not given:
 * fine for a standalone Redis or Sentinel, not for Redis Cluster).
 *   KEYS  session key    ARGV  user key prefix, index key prefix, member   ->  the record, or false
 */
const READ = new LuaScript(`
local record = redis.call('GET', KEYS[1])
if not record then return false end
local ok, data = pcall(cjson.decode, record)
if ok and type(data) == 'table' and type(data.userId) == 'string' then
  local changed = redis.call('HGET', ARGV[1] .. data.userId, 'passwordChangedAt')
  if changed and tonumber(changed) == data.credentialVersion
     and redis.call('ZSCORE', ARGV[2] .. data.userId, ARGV[3]) then
    return record
  end
end
redis.call('DEL', KEYS[1])
return false
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
interface PendingCreate {
  cap: number;
  done: (outcome: { evicted: string[] } | Error) => void;
}

/**
 * connect-redis, extended where this service needs more than get/set/del:
 *  - keys are the digest of the session id (infra/redis-keys.ts), so no live token rests in
 *    Redis or in a backup: reading Redis does not let anyone sign in;
 *  - reads check the record is still valid (READ) and writes are conditional (CREATE, UPDATE)
 *    instead of a blind GET and SET;
 *  - touch() writes nothing: a session's idle clock moves by an explicit save, at most once per
 *    touch interval (SessionManager), so a signed-in read costs one GET and no write.
 * Deletes are connect-redis's own; so are its TTL and serializer conventions (JSON records).
 */
export class SessionStore extends RedisStore {
  private readonly redis: RedisClient;
  private readonly keys: RedisKeys;
  private readonly session: Config['session'];
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly replicated: () => Promise<void>;
  private readonly creating = new WeakMap<object, PendingCreate>();

  constructor(deps: { redis: RedisClient; keys: RedisKeys; session: Config['session']; clock: Clock; logger: Logger; replicated?: () => Promise<void> }) {
    super({ client: deps.redis, prefix: deps.keys.sessionPrefix(), disableTouch: true });
    this.redis = deps.redis;
    this.keys = deps.keys;
    this.session = deps.session;
    this.clock = deps.clock;
    this.logger = deps.logger;
    this.replicated = deps.replicated ?? (async () => undefined);
  }

  /** The key layout (the manager derives session members with it). */
  keysFor(): RedisKeys {
    return this.keys;
  }

  /** Milliseconds a record should live: until its idle or absolute deadline. */
  ttlMs(sess: Partial<SessionData>): number {
    const now = this.clock.now();
    const deadline = Math.min((sess.lastSeenAt ?? now) + this.session.idleTimeoutMs, (sess.createdAt ?? now) + this.session.absoluteTimeoutMs);
    return deadline - now;
  }

  /**
   * Makes the next save of this session object a creation (CREATE script with the per-user cap).
   * The promise settles when that save ran: with the members it evicted, or SessionRefusedError.
   */
  expectCreate(sess: object, cap: number): Promise<{ evicted: string[] }> {
    return new Promise((resolve, reject) => {
      this.creating.set(sess, { cap, done: (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)) });
    });
  }

  override async get(sid: string, cb?: (err: unknown, data?: SessionData | null) => void) {
    try {
      const member = this.keys.sessionMember(sid);
      const record = await READ.run(this.redis, [this.keys.session(member)], [this.keys.user(''), this.keys.userSessions(''), member]);
      const data = typeof record === 'string' ? (JSON.parse(record) as SessionData) : null;
      if (cb) return cb(null, data);
      return data;
    } catch (error) {
      if (cb) return cb(error, null);
      throw error;
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

  override async touch(_sid: string, _sess: SessionData, cb?: Callback) {
    cb?.();
  }

  override async set(sid: string, sess: SessionData, cb?: Callback) {
    const pending = this.creating.get(sess);
    this.creating.delete(sess);
    try {
      if (!sess.userId) throw new Error('refusing to store a session without a user');
      const member = this.keys.sessionMember(sid);
      const keys = [this.keys.session(member), this.keys.userSessions(sess.userId), this.keys.user(sess.userId)];
      const ttl = Math.max(1, this.ttlMs(sess));
      const record = JSON.stringify(sess);
      if (pending) {
        const deadline = sess.createdAt + this.session.absoluteTimeoutMs;
        const reply = (await CREATE.run(this.redis, keys, [
          member,
          record,
          ttl,
          sess.credentialVersion,
          deadline,
          this.clock.now(),
          pending.cap,
          this.keys.sessionPrefix(),
        ])) as Array<number | string>;
        if (reply[0] !== 1) throw new SessionRefusedError();
        // A login must survive a failover: wait for a replica (Sentinel only).
        await this.replicated();
        pending.done({ evicted: reply.slice(1) as string[] });
      } else {
        // 0 = not written (revoked, expired or password changed): the next request finds no session.
        await UPDATE.run(this.redis, keys, [member, record, ttl, sess.credentialVersion]);
      }
      cb?.();
    } catch (error) {
      pending?.done(error instanceof Error ? error : new Error(String(error)));
      if (!pending) {
        // Moving the idle clock is best effort: a failed write must not fail a read (the record
        // keeps its deadline; with Redis full or away the request still gets its answer).
        this.logger.warn({ err: error, event: 'session.touch_failed' }, 'could not update the session record');
        cb?.();
        return;
      }
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
