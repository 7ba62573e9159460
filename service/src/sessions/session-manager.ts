import type { Request } from 'express';
import type { RedisStore } from 'connect-redis';
import type { SessionData } from 'express-session';
import type { Config } from '../config/config.ts';
import type { Clock } from '../infra/clock.ts';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import type { User } from '../users/user-repository.ts';
import { SessionIndex, sessionHandle } from './session-index.ts';
import './session-types.ts';

export type RevokeReason = 'logout' | 'idle_timeout' | 'absolute_timeout' | 'revoked' | 'password_change' | 'user_removed';

export interface SessionSummary {
  id: string;
  createdAt: string;
  lastSeenAt: string;
  ip: string;
  userAgent: string;
  current: boolean;
}

export interface SessionTimes {
  createdAt: string;
  expiresAt: string;
  absoluteExpiresAt: string;
}

/**
 * The session lifecycle: establish on login (regenerate, fill, save, index), end on logout,
 * enforce idle/absolute deadlines, list and revoke a user's sessions. Route code stays thin.
 */
export class SessionManager {
  private readonly store: RedisStore;
  private readonly index: SessionIndex;
  private readonly config: Config['session'];
  private readonly clock: Clock;
  private readonly metrics: Metrics;
  private readonly logger: Logger;

  constructor(store: RedisStore, index: SessionIndex, config: Config['session'], clock: Clock, metrics: Metrics, logger: Logger) {
    this.store = store;
    this.index = index;
    this.config = config;
    this.clock = clock;
    this.metrics = metrics;
    this.logger = logger;
  }

  /**
   * Starts a signed-in session. regenerate() gives a new id (defeats fixation: an id planted
   * before login is worthless after), and save() completes before the response so the next
   * request finds the session.
   */
  async establish(req: Request, user: Pick<User, 'id' | 'username' | 'passwordChangedAt'>): Promise<void> {
    if (req.session) {
      await new Promise<void>((resolve, reject) => req.session.regenerate((err?: unknown) => (err ? reject(asError(err)) : resolve())));
    } else {
      // The cookie's session was just ended in this request (expired, user removed): start a
      // fresh one with a new id instead of regenerating a session that no longer exists.
      req.sessionStore.generate(req);
    }
    const now = this.clock.now();
    Object.assign(req.session, {
      userId: user.id,
      username: user.username,
      createdAt: now,
      lastSeenAt: now,
      ip: req.ip ?? '',
      userAgent: (req.get('user-agent') ?? '').slice(0, 256),
      credentialVersion: user.passwordChangedAt,
    } satisfies Partial<SessionData>);
    // Indexed before it is saved: a session that exists is always revocable (a member whose
    // record never got written is pruned later).
    await this.index.add(user.id, req.sessionID, now + this.config.absoluteTimeoutMs);
    await new Promise<void>((resolve, reject) => req.session.save((err?: unknown) => (err ? reject(asError(err)) : resolve())));
    this.metrics.sessionsCreated.inc();
  }

  /** Destroys the current session (logout, a deadline passed, revoked) in Redis and on req. */
  async end(req: Request, reason: RevokeReason): Promise<void> {
    const { userId } = req.session;
    const sessionId = req.sessionID;
    await new Promise<void>((resolve, reject) => req.session.destroy((err?: unknown) => (err ? reject(asError(err)) : resolve())));
    if (userId) {
      await this.index.remove(userId, [sessionId]);
      this.metrics.sessionsRevoked.inc({ reason });
    }
  }

  /**
   * Enforces the idle and absolute deadlines server-side (the cookie's own expiry is only a
   * hint to the browser). Returns the reason when the session just ended.
   */
  async enforceDeadlines(req: Request): Promise<RevokeReason | undefined> {
    const { userId, createdAt, lastSeenAt } = req.session;
    if (!userId || createdAt === undefined || lastSeenAt === undefined) return undefined;
    const now = this.clock.now();
    const reason: RevokeReason | undefined =
      now - createdAt >= this.config.absoluteTimeoutMs ? 'absolute_timeout' : now - lastSeenAt >= this.config.idleTimeoutMs ? 'idle_timeout' : undefined;
    if (reason) {
      await this.end(req, reason);
      this.logger.info({ event: 'session.expired', reason, userId }, 'session expired');
      return reason;
    }
    req.session.lastSeenAt = now;
    return undefined;
  }

  /**
   * A session record is still one the user holds only when it is listed in the user's index
   * (revocation removes it there first, so a racing request that writes the record back
   * cannot resurrect it) and it began with the user's current password.
   */
  isIndexed(req: Request): Promise<boolean> {
    return req.session.userId ? this.index.contains(req.session.userId, req.sessionID) : Promise.resolve(false);
  }

  matchesCredentials(req: Request, user: Pick<User, 'passwordChangedAt'>): boolean {
    return req.session.credentialVersion === user.passwordChangedAt;
  }

  times(req: Request): SessionTimes {
    const createdAt = req.session.createdAt ?? this.clock.now();
    const lastSeenAt = req.session.lastSeenAt ?? createdAt;
    const absolute = createdAt + this.config.absoluteTimeoutMs;
    return {
      createdAt: new Date(createdAt).toISOString(),
      expiresAt: new Date(Math.min(lastSeenAt + this.config.idleTimeoutMs, absolute)).toISOString(),
      absoluteExpiresAt: new Date(absolute).toISOString(),
    };
  }

  async list(userId: string, currentSessionId: string): Promise<SessionSummary[]> {
    const ids = await this.index.sessionIds(userId);
    const records = await Promise.all(ids.map((id) => this.load(id)));
    const summaries: SessionSummary[] = [];
    ids.forEach((id, i) => {
      const data = records[i];
      if (!data || data.userId !== userId) return;
      summaries.push({
        id: sessionHandle(id),
        createdAt: new Date(data.createdAt).toISOString(),
        lastSeenAt: new Date(data.lastSeenAt).toISOString(),
        ip: data.ip,
        userAgent: data.userAgent,
        current: id === currentSessionId,
      });
    });
    return summaries.sort((a, b) => b.lastSeenAt.localeCompare(a.lastSeenAt));
  }

  /**
   * Revokes the caller's session with this public handle: 'none' when the caller has no
   * such session, 'current' when it was the caller's own (which is ended like a logout).
   */
  async revokeByHandle(req: Request, userId: string, handle: string, reason: RevokeReason): Promise<'none' | 'other' | 'current'> {
    if (sessionHandle(req.sessionID) === handle && req.session.userId === userId) {
      await this.end(req, reason);
      return 'current';
    }
    const ids = await this.index.sessionIds(userId);
    const target = ids.find((id) => sessionHandle(id) === handle);
    if (!target) return 'none';
    await this.revoke(userId, [target], reason);
    return 'other';
  }

  /** Revokes every session of the user except `keepSessionId` (if given). Returns how many. */
  async revokeAll(userId: string, reason: RevokeReason, keepSessionId?: string): Promise<number> {
    const ids = (await this.index.sessionIds(userId)).filter((id) => id !== keepSessionId);
    await this.revoke(userId, ids, reason);
    return ids.length;
  }

  private async revoke(userId: string, sessionIds: string[], reason: RevokeReason): Promise<void> {
    if (sessionIds.length === 0) return;
    // Index first: from this moment isIndexed() refuses them, even if a request in flight
    // writes a record back after the destroy below.
    await this.index.remove(userId, sessionIds);
    await Promise.all(sessionIds.map((id) => this.store.destroy(id)));
    this.metrics.sessionsRevoked.inc({ reason }, sessionIds.length);
  }

  private async load(sessionId: string): Promise<SessionData | undefined> {
    const data = (await this.store.get(sessionId)) as SessionData | null | undefined;
    return data ?? undefined;
  }
}

/** express-session hands callbacks whatever its store rejected with. */
function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
