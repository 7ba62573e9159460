import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../infra/redis-client.ts';
import type { Clock } from '../infra/clock.ts';
import type { RedisKeys } from '../infra/redis-keys.ts';
import { LuaScript } from '../infra/lua-script.ts';
import { parseGroups, serializeGroups } from './groups.ts';
import { normalizeUsername, usernameSkeleton } from './username.ts';

export interface User {
  id: string;
  username: string;
  passwordHash: string;
  createdAt: number;
  /** When the password last changed (shown to people; never compared). */
  passwordChangedAt: number;
  /**
   * The credential version every session carries: a counter that a password change moves up by
   * one, so no session begun with an older password can be created or found valid, whatever the
   * clocks say. (Users from before the counter have their passwordChangedAt as their version.)
   */
  credentialVersion: number;
  /**
   * The device generation every device cookie is bound to (auth/device-trust.ts): a password
   * change and "sign out everywhere else" move it up, and every device cookie issued before ends.
   */
  deviceGeneration: number;
  /** Groups (users/groups.ts): what access rules admit besides usernames (forward-auth/). */
  groups: string[];
}

/** The name, or one that looks like it (the same confusable skeleton), belongs to someone. */
export class UsernameTakenError extends Error {
  readonly lookAlike: boolean;

  constructor(username: string, lookAlike: boolean) {
    super(lookAlike ? `username "${username}" looks like one that is taken` : `username "${username}" is taken`);
    this.name = 'UsernameTakenError';
    this.lookAlike = lookAlike;
  }
}

/**
 * Users in Redis, never with a TTL (key layout: infra/redis-keys.ts). The writes that change
 * what a user's sessions and device cookies may do (creation, password change, signing out
 * everywhere else, removal) are one script each, together with their effect on those sessions:
 * neither a login in flight nor a Redis failover can keep one half without the other.
 */
export class UserRepository {
  private readonly redis: RedisClient;
  private readonly keys: RedisKeys;
  private readonly clock: Clock;
  private readonly replicated: () => Promise<void>;

  /** `replicated`: waits for a replica after writes that must survive a failover (Sentinel). */
  constructor(deps: { redis: RedisClient; keys: RedisKeys; clock: Clock; replicated?: () => Promise<void> }) {
    this.redis = deps.redis;
    this.keys = deps.keys;
    this.clock = deps.clock;
    this.replicated = deps.replicated ?? (async () => undefined);
  }

  private userKey(id: string) {
    return this.keys.user(id);
  }

  private usernameKey(username: string) {
    return this.keys.username(normalizeUsername(username));
  }

  private skeletonKey(username: string) {
    return this.keys.usernameSkeleton(usernameSkeleton(username));
  }

  async findById(id: string): Promise<User | undefined> {
    const fields = await this.redis.hGetAll(this.userKey(id));
    return fields.id ? toUser(fields) : undefined;
  }

  async findByUsername(username: string): Promise<User | undefined> {
    const id = await this.redis.get(this.usernameKey(username));
    return id ? this.findById(id) : undefined;
  }

  /**
   * Creates a user, in one step: the name (case-insensitively) and its confusable skeleton are
   * claimed together with the record, so two racing sign-ups cannot both win and no look-alike
   * of an existing name gets in. Throws UsernameTakenError.
   */
  async create(username: string, passwordHash: string): Promise<User> {
    const now = this.clock.now();
    const user: User = {
      id: randomUUID(),
      username,
      passwordHash,
      createdAt: now,
      passwordChangedAt: now,
      credentialVersion: 1,
      deviceGeneration: 1,
      groups: [],
    };
    const keys = [this.usernameKey(username), this.skeletonKey(username), this.userKey(user.id), this.keys.users()];
    const outcome = await CREATE.run(this.redis, keys, [user.id, ...Object.entries(toFields(user)).flat()]);
    if (outcome !== 'ok') throw new UsernameTakenError(username, outcome === 'skeleton');
    await this.replicated();
    return user;
  }

  /**
   * Claims the confusable skeleton of every user that has none (users from before the claim
   * existed), so their look-alikes are refused too. Idempotent; run at start-up. Two existing
   * users who already look alike keep their names: the first claims the skeleton.
   */
  async claimMissingSkeletons(): Promise<number> {
    let claimed = 0;
    for (const user of await this.list()) {
      if ((await this.redis.set(this.skeletonKey(user.username), user.id, { condition: 'NX' })) !== null) claimed += 1;
    }
    return claimed;
  }

  /**
   * A password change, in one step: the new hash, the next credential version (no session begun
   * with the old password can be created from then on), the next device generation (every device
   * cookie issued before ends), and the end of every session of the user but `keepMember` (the
   * caller's, which is re-established right after). Only while the user still exists: a plain
   * HSET racing a removal would resurrect a half user.
   */
  async changePasswordHash(
    id: string,
    passwordHash: string,
    keepMember = '',
  ): Promise<
    { changedAt: number; credentialVersion: number; deviceGeneration: number; endedSessions: number } | undefined
  > {
    const changedAt = this.clock.now();
    const reply = (await CHANGE_PASSWORD.run(
      this.redis,
      [this.userKey(id), this.keys.userSessions(id)],
      [passwordHash, String(changedAt), this.keys.sessionPrefix(), keepMember],
    )) as number[];
    await this.replicated();
    if (reply[0] === -1) return undefined;
    const [credentialVersion, deviceGeneration, endedSessions] = reply as [number, number, number];
    return { changedAt, credentialVersion, deviceGeneration, endedSessions };
  }

  /**
   * Sets the user's groups, in one step with the end of every session of theirs and the next
   * credential version: sessions carry the groups they began with (one GET answers a forward-auth
   * check), so a change applies from the next sign-in, and no login in flight can begin a session
   * with the old ones. Returns how many sessions ended, or undefined when the user is gone.
   */
  async setGroups(id: string, groups: Iterable<string>): Promise<number | undefined> {
    const reply = (await SET_GROUPS.run(
      this.redis,
      [this.userKey(id), this.keys.userSessions(id)],
      [serializeGroups(groups), this.keys.sessionPrefix()],
    )) as number[];
    await this.replicated();
    return reply[0] === -1 ? undefined : reply[1];
  }

  /**
   * "Sign out everywhere else", in one step: every session of the user but `keepMember` ends, and
   * so does every device cookie (the next device generation). Returns that generation and how
   * many sessions ended, or undefined when the user is gone.
   */
  async signOutElsewhere(
    id: string,
    keepMember: string,
  ): Promise<{ deviceGeneration: number; endedSessions: number } | undefined> {
    const reply = (await SIGN_OUT_ELSEWHERE.run(
      this.redis,
      [this.userKey(id), this.keys.userSessions(id)],
      [this.keys.sessionPrefix(), keepMember],
    )) as number[];
    await this.replicated();
    if (reply[0] === -1) return undefined;
    const [deviceGeneration, endedSessions] = reply as [number, number];
    return { deviceGeneration, endedSessions };
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
   * create one afterwards: its user is gone; its device cookies name a user that no longer
   * exists). The name and its skeleton are released only while they still point at this user.
   * Returns how many sessions ended.
   */
  async remove(user: User): Promise<number> {
    const keys = [
      this.userKey(user.id),
      this.usernameKey(user.username),
      this.skeletonKey(user.username),
      this.keys.users(),
      this.keys.userSessions(user.id),
    ];
    const ended = Number(await REMOVE.run(this.redis, keys, [user.id, this.keys.sessionPrefix()]));
    await this.replicated();
    return ended;
  }

  async list(): Promise<User[]> {
    const ids = await this.redis.sMembers(this.keys.users());
    const users = await Promise.all(ids.map((id) => this.findById(id)));
    return users.filter((u): u is User => u !== undefined).sort((a, b) => a.createdAt - b.createdAt);
  }
}

/**
 * KEYS username key, skeleton key, user key, users set   ARGV user id, then the record's fields
 *   ->  'ok', 'username' (the name is taken) or 'skeleton' (a look-alike is)
 */
const CREATE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 'username' end
if redis.call('EXISTS', KEYS[2]) == 1 then return 'skeleton' end
redis.call('SET', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], unpack(ARGV, 2))
redis.call('SADD', KEYS[4], ARGV[1])
return 'ok'`);
/**
 * Ends every session in a user's index but one (a member that is no session: ''), records and
 * index entries together, and returns how many; and moves a user's counter field to its next
 * value (a user from before the counter starts from the legacy field given, if any).
 */
const HELPERS = `
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
local function next_value(user, field, legacy)
  local current = redis.call('HGET', user, field) or (legacy and redis.call('HGET', user, legacy)) or '0'
  local value = string.format('%d', tonumber(current) + 1)
  redis.call('HSET', user, field, value)
  return tonumber(value)
end
`;
/**
 * KEYS user key, index key   ARGV hash, changed at, session key prefix, member to keep
 *   ->  {credential version, device generation, sessions ended}, or {-1} (no such user)
 */
const CHANGE_PASSWORD = new LuaScript(`${HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
redis.call('HSET', KEYS[1], 'passwordHash', ARGV[1], 'passwordChangedAt', ARGV[2])
local version = next_value(KEYS[1], 'credentialVersion', 'passwordChangedAt')
local generation = next_value(KEYS[1], 'deviceGeneration', false)
return {version, generation, end_sessions(KEYS[2], ARGV[3], ARGV[4])}`);
/** KEYS user key, index key   ARGV session key prefix, member to keep  ->  {device generation, sessions ended}, or {-1} */
const SIGN_OUT_ELSEWHERE = new LuaScript(`${HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
local generation = next_value(KEYS[1], 'deviceGeneration', false)
return {generation, end_sessions(KEYS[2], ARGV[1], ARGV[2])}`);
/** KEYS user key, index key   ARGV groups (JSON), session key prefix  ->  {credential version, sessions ended}, or {-1} */
const SET_GROUPS = new LuaScript(`${HELPERS}
if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end
redis.call('HSET', KEYS[1], 'groups', ARGV[1])
local version = next_value(KEYS[1], 'credentialVersion', 'passwordChangedAt')
return {version, end_sessions(KEYS[2], ARGV[2], '')}`);
/** KEYS user key, username key, skeleton key, users set, index key   ARGV user id, session key prefix  ->  sessions ended */
const REMOVE = new LuaScript(`${HELPERS}
redis.call('DEL', KEYS[1])
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
if redis.call('GET', KEYS[3]) == ARGV[1] then redis.call('DEL', KEYS[3]) end
redis.call('SREM', KEYS[4], ARGV[1])
return end_sessions(KEYS[5], ARGV[2], '')`);
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
    credentialVersion: String(user.credentialVersion),
    deviceGeneration: String(user.deviceGeneration),
    groups: serializeGroups(user.groups),
  };
}

function toUser(fields: Record<string, string>): User {
  return {
    id: fields.id!,
    username: fields.username ?? '',
    passwordHash: fields.passwordHash ?? '',
    createdAt: Number(fields.createdAt),
    passwordChangedAt: Number(fields.passwordChangedAt),
    credentialVersion: Number(fields.credentialVersion ?? fields.passwordChangedAt),
    deviceGeneration: Number(fields.deviceGeneration ?? 0),
    groups: parseGroups(fields.groups),
  };
}
