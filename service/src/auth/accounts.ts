import { AppError, invalidRequest, unauthenticated, usernameTaken } from '../errors.ts';
import type { Logger } from '../infra/logger.ts';
import type { SessionManager } from '../sessions/session-manager.ts';
import { UsernameTakenError, type User, type UserRepository } from '../users/user-repository.ts';
import { isMixedScript, usernameProblem } from '../users/username.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { assertGroupName } from '../users/groups.ts';
import { passwordProblem } from './password-policy.ts';

/** Account lifecycle shared by the HTTP routes, the admin bootstrap and the operator CLI. */
export class Accounts {
  private readonly users: UserRepository;
  private readonly hasher: PasswordHasher;
  private readonly sessions: SessionManager;
  private readonly logger: Logger;

  constructor(deps: { users: UserRepository; hasher: PasswordHasher; sessions: SessionManager; logger: Logger }) {
    this.users = deps.users;
    this.hasher = deps.hasher;
    this.sessions = deps.sessions;
    this.logger = deps.logger;
  }

  /**
   * Validates, hashes and stores a new user. 400 when the name is invalid or mixes scripts
   * (Unicode TS #39: "раураl" is Cyrillic and Latin) or the password is weak; 409 when the name,
   * or one that looks like it (its confusable skeleton), is taken.
   */
  async create(username: string, password: string): Promise<User> {
    const nameProblem =
      usernameProblem(username) ??
      (isMixedScript(username)
        ? 'username must be written in one script (no look-alike letters from another)'
        : undefined);
    if (nameProblem) throw invalidRequest(nameProblem);
    this.assertPasswordAcceptable(password, username);
    const hash = await this.hasher.hash(password);
    try {
      const user = await this.users.create(username, hash);
      this.logger.info({ event: 'user.created', userId: user.id }, 'user created');
      return user;
    } catch (error) {
      if (error instanceof UsernameTakenError) throw usernameTaken(error.lookAlike);
      throw error;
    }
  }

  /**
   * Sets a new password and, in the same step (UserRepository.changePasswordHash), ends the
   * user's sessions except `keepSessionId` (the caller's own, which the route re-establishes
   * with the returned user) and every device cookie (a new device generation). 401 when the user
   * is gone.
   */
  async changePassword(
    user: Pick<User, 'id' | 'username' | 'groups'>,
    newPassword: string,
    keepSessionId?: string,
  ): Promise<{
    user: Pick<User, 'id' | 'username' | 'credentialVersion' | 'deviceGeneration' | 'groups'>;
    revoked: number;
  }> {
    this.assertPasswordAcceptable(newPassword, user.username);
    const hash = await this.hasher.hash(newPassword);
    const keep = keepSessionId === undefined ? '' : this.sessions.memberOf(keepSessionId);
    const changed = await this.users.changePasswordHash(user.id, hash, keep);
    if (!changed) throw unauthenticated();
    this.sessions.countRevoked('password_change', changed.endedSessions);
    this.logger.info(
      { event: 'user.password_changed', userId: user.id, revokedSessions: changed.endedSessions },
      'password changed',
    );
    const { credentialVersion, deviceGeneration } = changed;
    return {
      user: { id: user.id, username: user.username, groups: user.groups, credentialVersion, deviceGeneration },
      revoked: changed.endedSessions,
    };
  }

  /**
   * "Sign out everywhere else": every session of the user but `keepSessionId` ends, and every
   * device cookie with them (a new device generation), in one step. Returns the new generation
   * (the caller's own device cookie is re-issued with it) and how many sessions ended.
   */
  async signOutElsewhere(
    user: Pick<User, 'id'>,
    keepSessionId: string,
  ): Promise<{ deviceGeneration: number; revoked: number }> {
    const done = await this.users.signOutElsewhere(user.id, this.sessions.memberOf(keepSessionId));
    if (!done) throw unauthenticated();
    this.sessions.countRevoked('revoked', done.endedSessions);
    return { deviceGeneration: done.deviceGeneration, revoked: done.endedSessions };
  }

  /** Adds and removes groups (users/groups.ts); the user's sessions end (UserRepository.setGroups). */
  async changeGroups(
    user: User,
    change: { add?: string[]; remove?: string[] },
  ): Promise<{ groups: string[]; revoked: number }> {
    const groups = new Set(user.groups);
    for (const group of change.add ?? []) groups.add(assertGroupName(group));
    for (const group of change.remove ?? []) groups.delete(group);
    const revoked = await this.users.setGroups(user.id, groups);
    if (revoked === undefined) throw unauthenticated();
    this.sessions.countRevoked('revoked', revoked);
    this.logger.info(
      { event: 'user.groups_changed', userId: user.id, groups: [...groups], revokedSessions: revoked },
      'groups changed',
    );
    return { groups: [...groups].sort(), revoked };
  }

  async remove(user: User): Promise<number> {
    const revoked = await this.users.remove(user);
    this.sessions.countRevoked('user_removed', revoked);
    this.logger.info({ event: 'user.removed', userId: user.id, revokedSessions: revoked }, 'user removed');
    return revoked;
  }

  /** Creates the configured admin at start-up unless a user of that name exists. */
  async ensureUser(username: string, password: string): Promise<'created' | 'exists'> {
    if (await this.users.findByUsername(username)) return 'exists';
    try {
      await this.create(username, password);
      return 'created';
    } catch (error) {
      // Two replicas starting at once: the other one created it.
      if (error instanceof AppError && error.code === 'username_taken') return 'exists';
      throw error;
    }
  }

  private assertPasswordAcceptable(password: string, username: string) {
    const problem = passwordProblem(password, { username });
    if (problem) throw new AppError(400, problem.code, problem.message);
  }
}
