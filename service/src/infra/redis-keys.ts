/**
 * The Redis key layout, in one place. Every key starts with REDIS_KEY_PREFIX, so the service
 * can share a Redis with others. Users never carry a TTL; everything else does.
 *
 *   user:<id>                 hash {id, username, passwordHash, createdAt, passwordChangedAt}
 *   username:<normalized>     string -> user id (the uniqueness claim, SET NX)
 *   users                     set of user ids (for `users ls`)
 *   sess:<session id>         a session record (connect-redis), TTL = its own deadline
 *   user-sessions:<user id>   sorted set of the user's session ids, scored by absolute deadline
 *   throttle:<scope>:<name>:* rate-limiter counters (login, password change, sign-up)
 */
export class RedisKeys {
  readonly prefix: string;

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

  users(): string {
    return `${this.prefix}users`;
  }

  /** What connect-redis puts before a session id. */
  sessionPrefix(): string {
    return `${this.prefix}sess:`;
  }

  session(sessionId: string): string {
    return `${this.sessionPrefix()}${sessionId}`;
  }

  userSessions(userId: string): string {
    return `${this.prefix}user-sessions:${userId}`;
  }

  /** Key prefix of one rate-limiter counter family, e.g. throttle('login', 'ip'). */
  throttle(scope: string, counter: string): string {
    return `${this.prefix}throttle:${scope}:${counter}`;
  }
}
