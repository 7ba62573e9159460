import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../infra/redis-client.ts';
import type { Clock } from '../infra/clock.ts';
import type { RedisKeys } from '../infra/redis-keys.ts';
import { LuaScript } from '../infra/lua-script.ts';
import { normalizeUsername } from './username.ts';

export interface User {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: number;
  passwordChangedAt: number;
}

export class UsernameTakenError extends Error {
  constructor(username: string) {
    super(`username "${username}" is taken`);
    this.name = 'UsernameTakenError';
  }
}

/** Users in Redis, never with a TTL (key layout: infra/redis-keys.ts). */
export class UserRepository {
  private readonly redis: RedisClient;
  private readonly keys: RedisKeys;
  private readonly clock: Clock;
  private readonly replicated: () => Promise<void>;

  /** `replicated`: waits for a replica after writes that must survive a failover (Sentinel). */
  constructor(redis: RedisClient, keys: RedisKeys, clock: Clock, replicated: () => Promise<void> = async () => undefined) {
    this.redis = redis;
    this.keys = keys;
    this.clock = clock;
    this.replicated = replicated;
  }

  private userKey(id: string) {
    return this.keys.user(id);
  }

  private usernameKey(username: string) {
    return this.keys.username(normalizeUsername(username));
  }

  async findById(id: string): Promise<User | undefined> {
    const fields = await this.redis.hGetAll(this.userKey(id));
    return fields.id ? toUser(fields) : undefined;
  }

  async findByUsername(username: string): Promise<User | undefined> {
    const id = await this.redis.get(this.usernameKey(username));
    return id ? this.findById(id) : undefined;
  }

  /** Creates a user; throws UsernameTakenError when the name is taken, case-insensitively. */
  async create(username: string, passwordHash: string): Promise<User> {
    const now = this.clock.now();
    const user: User = { id: randomUUID(), username, passwordHash, createdAt: now, passwordChangedAt: now };
    // Claim the name first: SET NX is atomic, so two racing sign-ups cannot both win.
    const claimed = await this.redis.set(this.usernameKey(username), user.id, { condition: 'NX' });
    if (claimed === null) throw new UsernameTakenError(username);
    try {
      await this.redis.multi().hSet(this.userKey(user.id), toFields(user)).sAdd(this.keys.users(), user.id).exec();
    } catch (error) {
      // Give the name back, or it would stay claimed by a user that was never written
      // (best effort: if Redis is gone entirely, so is the chance to clean up).
      await DEL_IF_EQUALS.run(this.redis, [this.usernameKey(username)], [user.id]).catch(() => undefined);
      throw error;
    }
    await this.replicated();
    return user;
  }

  /**
   * A password change, in one step: the new hash, a new passwordChangedAt (the credential version
   * every session carries, so no session begun before it can be created from then on), and the
   * end of every session of the user but `keepMember` (the caller's, which is re-established
   * right after). One script, so neither a login in flight nor a failover can keep a session
   * from before the change. Only while the user still exists: a plain HSET racing a removal
   * would resurrect a half user. Returns the new version and how many sessions ended.
   */
  async changePasswordHash(id: string, passwordHash: string, keepMember = ''): Promise<{ changedAt: number; endedSessions: number }> {
    const changedAt = this.clock.now();
    const ended = Number(
      await CHANGE_PASSWORD.run(
        this.redis,
        [this.userKey(id), this.keys.userSessions(id)],
        [passwordHash, String(changedAt), this.keys.sessionPrefix(), keepMember],
      ),
    );
    await this.replicated();
    return { changedAt, endedSessions: Math.max(0, ended) };
  }

  /**
   * A re-hash of the same password with stronger parameters: written only when the stored hash
   * is still the one that was verified, so it never undoes a password change that landed in
   * between. Returns whether it was written.
   */
  async replaceHashIfUnchanged(id: string, verifiedHash: string, passwordHash: string): Promise<boolean> {
    return (await REPLACE_HASH_IF_UNCHANGED.run(this.redis, [this.userKey(id)], [verifiedHash, passwordHash])) === 1;
  }

  /**
   * Removes the user and ends every session of theirs, in one step (a login in flight cannot
   * create one afterwards: its user is gone). The name is released only while it still points
   * at this user. Returns how many sessions ended.
   */
  async remove(user: User): Promise<number> {
    const keys = [this.userKey(user.id), this.usernameKey(user.username), this.keys.users(), this.keys.userSessions(user.id)];
    const ended = Number(await REMOVE.run(this.redis, keys, [user.id, this.keys.sessionPrefix()]));
    await this.replicated();
    return Math.max(0, ended);
  }

  async list(): Promise<User[]> {
    const ids = await this.redis.sMembers(this.keys.users());
    const users = await Promise.all(ids.map((id) => this.findById(id)));
    return users.filter((u): u is User => u !== undefined).sort((a, b) => a.createdAt - b.createdAt);
  }
}

const DEL_IF_EQUALS = new LuaScript(`if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`);
/**
 * Ends every session in a user's index but one (a member that is no session: ''), records and
 * index entries together, and returns how many.
 */
const END_SESSIONS = `
local function end_sessions(index, prefix, keep)
  local ended = 0
  for _, m in ipairs(redis.call('ZRANGE', index, 0, -1)) do
    if m ~= keep then
      redis.call('ZREM', index, m)
      redis.call('DEL', prefix .. m)
      ended = ended + 1
    end
  end
  return ended
end
`;
/** KEYS user key, index key   ARGV hash, changed at, session key prefix, member to keep  ->  sessions ended, or -1 (no such user) */
const CHANGE_PASSWORD = new LuaScript(`${END_SESSIONS}
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
redis.call('HSET', KEYS[1], 'passwordHash', ARGV[1], 'passwordChangedAt', ARGV[2])
return end_sessions(KEYS[2], ARGV[3], ARGV[4])`);
/** KEYS user key, username key, users set, index key   ARGV user id, session key prefix  ->  sessions ended */
const REMOVE = new LuaScript(`${END_SESSIONS}
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
redis.call('SREM', KEYS[3], ARGV[1])
return end_sessions(KEYS[4], ARGV[2], '')`);
const REPLACE_HASH_IF_UNCHANGED = new LuaScript(`
if redis.call('HGET', KEYS[1], 'passwordHash') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'passwordHash', ARGV[2])
return 1`);

function toFields(user: User): Record<string, string> {
  return {
    id: user.id,
    username: user.username,
    passwordHash: user.passwordHash,
    createdAt: String(user.createdAt),
    passwordChangedAt: String(user.passwordChangedAt),
  };
}

function toUser(fields: Record<string, string>): User {
  return {
    id: fields.id!,
    username: fields.username ?? '',
    passwordHash: fields.passwordHash ?? '',
    createdAt: Number(fields.createdAt),
    passwordChangedAt: Number(fields.passwordChangedAt),
  };
}
