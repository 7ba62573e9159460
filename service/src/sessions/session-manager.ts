import type { Request } from 'express';
import type { SessionData } from 'express-session';
import type { Config } from '../config/config.ts';
import { invalidCredentials } from '../errors.ts';
import type { Clock } from '../infra/clock.ts';
import type { Logger } from '../infra/logger.ts';
import type { Metrics } from '../infra/metrics.ts';
import { digest } from '../infra/redis-keys.ts';
import type { User } from '../users/user-repository.ts';
import { signingSecretId } from './session-cookie.ts';
import { SessionRefusedError, type SessionStore } from './session-store.ts';
import './session-types.ts';

export type RevokeReason =
  'logout' | 'idle_timeout' | 'absolute_timeout' | 'revoked' | 'password_change' | 'user_removed' | 'session_limit';

/** Who a valid session belongs to: all a signed-in request needs, read from the session record. */
export interface SessionUser {
  id: string;
  username: string;
  groups: string[];
}

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
 * How often a session that is only read moves its idle clock (one write, and a re-signed cookie).
 * Once a minute, or a quarter of a short idle timeout: the idle timeout is precise to this.
 */
export function touchIntervalMs(idleTimeoutMs: number): number {
  return Math.min(60_000, Math.floor(idleTimeoutMs / 4));
}

/** The public handle of a session: opaque, and no way back to the token or the Redis key. */
export function sessionHandle(member: string): string {
  return digest(`handle:${member}`).slice(0, 22);
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * The session lifecycle: establish on login (regenerate, fill, create under the per-user cap),
 * end on logout, enforce the idle and absolute deadlines, list and revoke a user's sessions.
 * Every write goes through SessionStore's scripts, so a session record exists only while the
 * session is valid and a signed-in read is one GET. Route code stays thin.
 */
export class SessionManager {
  private readonly store: SessionStore;
  private readonly config: Config['session'];
  private readonly clock: Clock;
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly touchMs: number;
  private readonly signedWith: string;

  constructor(deps: {
    store: SessionStore;
    config: Config['session'];
    clock: Clock;
    metrics: Metrics;
    logger: Logger;
  }) {
    this.store = deps.store;
    this.config = deps.config;
    this.clock = deps.clock;
    this.metrics = deps.metrics;
    this.logger = deps.logger;
    this.touchMs = touchIntervalMs(deps.config.idleTimeoutMs);
    this.signedWith = signingSecretId(deps.config);
  }

  /** The index member of a session id (what the user's index and the session's key hold). */
  memberOf(sessionId: string): string {
    return this.store.keysFor().sessionMember(sessionId);
  }

  /** Counts sessions ended elsewhere in one step with their user (password change, removal). */
  countRevoked(reason: RevokeReason, count: number): void {
    if (count > 0) this.metrics.sessionsRevoked.inc({ reason }, count);
  }

  /**
   * Starts a signed-in session. regenerate() gives a new id (defeats fixation: an id planted
   * before login is worthless after); the record is created (indexed, under the cap) before the
   * response, so the next request finds it. Beyond MAX_SESSIONS_PER_USER the user's oldest sessions end.
   * Throws 401 when the user was removed or changed their password since it was checked.
   */
  async establish(req: Request, user: Pick<User, 'id' | 'username' | 'credentialVersion' | 'groups'>): Promise<void> {
    if (req.session.userId) {
      // The browser's previous session (re-login, password change) ends with this one's start.
      await this.store.revoke(req.session.userId, [this.memberOf(req.sessionID)]);
    }
    await this.regenerate(req);
    const now = this.clock.now();
    Object.assign(req.session, {
      userId: user.id,
      username: user.username,
      createdAt: now,
      lastSeenAt: now,
      ip: req.ip ?? '',
      userAgent: (req.get('user-agent') ?? '').slice(0, 256),
      credentialVersion: user.credentialVersion,
      signedWith: this.signedWith,
      groups: user.groups,
    } satisfies Partial<SessionData>);
    let evicted: string[];
    try {
      ({ evicted } = await this.store.create(
        req.sessionID,
        req.session as SessionData,
        this.config.maxSessionsPerUser,
      ));
    } catch (error) {
      if (error instanceof SessionRefusedError) throw invalidCredentials();
      throw error;
    }
    // express-session's own save, before the response (it then sees the session as saved and
    // sets the cookie): the record exists, so this is the store's conditional update.
    await new Promise<void>((resolve, reject) =>
      req.session.save((err?: unknown) => (err ? reject(asError(err)) : resolve())),
    );
    this.metrics.sessionsCreated.inc();
    if (evicted.length > 0) {
      this.metrics.sessionsRevoked.inc({ reason: 'session_limit' }, evicted.length);
      (req.log ?? this.logger).info(
        { event: 'session.revoked', reason: 'session_limit', userId: user.id, count: evicted.length },
        'oldest sessions ended: session limit reached',
      );
    }
  }

  /** Ends the current session (logout, revoked) in Redis and on req (express-session's destroy). */
  async end(req: Request, reason: RevokeReason): Promise<void> {
    const { userId } = req.session;
    if (userId && (await this.store.revoke(userId, [this.memberOf(req.sessionID)])) > 0)
      this.metrics.sessionsRevoked.inc({ reason });
    await new Promise<void>((resolve, reject) =>
      req.session.destroy((err?: unknown) => (err ? reject(asError(err)) : resolve())),
    );
  }

  /** express-session's regenerate: a new id and an empty session on req (the old record is deleted). */
  private regenerate(req: Request): Promise<void> {
    return new Promise<void>((resolve, reject) =>
      req.session.regenerate((err?: unknown) => (err ? reject(asError(err)) : resolve())),
    );
  }

  /**
   * Whether a loaded session's idle clock is due to move: it last moved longer ago than the
   * touch interval. (A session past its idle or absolute deadline was never loaded: the store
   * ends it on read.)
   */
  dueForTouch(req: Request): boolean {
    const { lastSeenAt } = req.session;
    return lastSeenAt !== undefined && this.clock.now() - lastSeenAt >= this.touchMs;
  }

  /**
   * Moves the session's idle clock to now. A change: express-session saves the record and
   * re-issues the cookie, signed with the newest secret (which the record now names).
   */
  touch(req: Request): void {
    req.session.lastSeenAt = this.clock.now();
    req.session.signedWith = this.signedWith;
  }

  /** The signed-in user of the request's session, if it has one. */
  userOf(req: Request): SessionUser | undefined {
    const { userId, username, groups = [] } = req.session ?? {};
    return userId && username !== undefined ? { id: userId, username, groups } : undefined;
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

  /**
   * The user's live sessions, most recently seen first (at most MAX_SESSIONS_PER_USER). The
   * caller's own is described as this request sees it (its idle clock may have just moved; the
   * record is saved with the response).
   */
  async list(req: Request, userId: string): Promise<SessionSummary[]> {
    const members = await this.store.members(userId);
    const records = await this.store.records(members);
    const current = this.memberOf(req.sessionID);
    const summaries: SessionSummary[] = [];
    members.forEach((member, i) => {
      const data = member === current && req.session?.userId === userId ? (req.session as SessionData) : records[i];
      if (!data || data.userId !== userId) return;
      summaries.push({
        id: sessionHandle(member),
        createdAt: new Date(data.createdAt).toISOString(),
        lastSeenAt: new Date(data.lastSeenAt).toISOString(),
        ip: data.ip,
        userAgent: data.userAgent,
        current: member === current,
      });
    });
    return summaries.sort((a, b) => b.lastSeenAt.localeCompare(a.lastSeenAt));
  }

  /**
   * Revokes the caller's session with this public handle: 'none' when the user has no such
   * session, 'current' when it was the caller's own (which is ended like a logout).
   */
  async revokeByHandle(
    req: Request,
    userId: string,
    handle: string,
    reason: RevokeReason,
  ): Promise<'none' | 'other' | 'current'> {
    if (sessionHandle(this.memberOf(req.sessionID)) === handle && req.session.userId === userId) {
      await this.end(req, reason);
      return 'current';
    }
    const target = (await this.store.members(userId)).find((member) => sessionHandle(member) === handle);
    if (!target) return 'none';
    await this.revokeMembers(userId, [target], reason);
    return 'other';
  }

  /** Revokes every session of the user except `keepSessionId` (if given). Returns how many. */
  async revokeAll(userId: string, reason: RevokeReason, keepSessionId?: string): Promise<number> {
    const keep = keepSessionId === undefined ? undefined : this.memberOf(keepSessionId);
    return this.revokeMembers(
      userId,
      (await this.store.members(userId)).filter((member) => member !== keep),
      reason,
    );
  }

  private async revokeMembers(userId: string, members: string[], reason: RevokeReason): Promise<number> {
    const removed = await this.store.revoke(userId, members);
    if (removed > 0) this.metrics.sessionsRevoked.inc({ reason }, removed);
    return removed;
  }
}
