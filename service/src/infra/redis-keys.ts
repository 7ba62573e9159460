import { createHash } from 'node:crypto';

/**
 * A fixed-size, one-way name for something that came from a client or is a secret: SHA-256,
 * base64url (43 characters). Keys built from client input stay small whatever the input was,
 * and session tokens never rest in Redis or in a backup.
 */
export function digest(value: string): string {
  return createHash('sha256').update(value).digest('base64url');
}

/**
 * The Redis key layout, in one place. Every key starts with REDIS_KEY_PREFIX, so the service
 * can share a Redis safely. Users never carry a TTL; everything else does, and everything an
 * anonymous request can create has a fixed, small size.
 *
 *   user:<id>                 hash {id, username, passwordHash, createdAt, passwordChangedAt,
 *                             credentialVersion, deviceGeneration} (the last two: counters)
 *   username:<normalized>     string -> user id (the uniqueness claim; written only when a user
 *                             is created)
 *   username-skeleton:<digest(skeleton)>  string -> user id (the look-alike claim, likewise)
 *   users                     set of user ids (for `users ls`)
 *   sess:<digest(sid)>        a session record (JSON), TTL = its own idle/absolute deadline
 *   user-sessions:<user id>   sorted set of the user's session digests, scored by absolute deadline
 *   throttle:<scope>:<counter>:<digest(subject)>   failure counters (login, sign-up)
 */
export class RedisKeys {
  readonly prefix: string;
  /** Session id -> member: a signed-in browser sends the same id request after request. */
  private readonly members = new Map<string, string>();

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  user(userId: string): string {
    return `${this.prefix}user:${userId}`;
  }

  /** The name must already be normalized (users/username.ts). */
  username(normalizedName: string): string {
    return `${this.prefix}username:${normalizedName}`;
  }

  /** The claim on a username's confusable skeleton (users/username.ts), digested: fixed size. */
  usernameSkeleton(skeleton: string): string {
    return `${this.prefix}username-skeleton:${digest(skeleton)}`;
  }

  users(): string {
    return `${this.prefix}users`;
  }

  /** Where session records live; the scripts that scan a user's index build keys from it. */
  sessionPrefix(): string {
    return `${this.prefix}sess:`;
  }

  /** The index member and key suffix of a session: the digest of its id, never the id. */
  sessionMember(sessionId: string): string {
    let member = this.members.get(sessionId);
    if (member === undefined) {
      member = digest(sessionId);
      // Bounded: the oldest entry goes first (the digest is cheap to compute again).
      if (this.members.size >= 10_000) this.members.delete(this.members.keys().next().value!);
      this.members.set(sessionId, member);
    }
    return member;
  }

  session(member: string): string {
    return `${this.sessionPrefix()}${member}`;
  }

  userSessions(userId: string): string {
    return `${this.prefix}user-sessions:${userId}`;
  }

  /** One failure counter; the subject (a username, an address, a device) is digested. */
  throttle(scope: string, counter: string, subject: string): string {
    return `${this.prefix}throttle:${scope}:${counter}:${digest(subject)}`;
  }
}
