import { AppError, invalidRequest, usernameTaken } from '../errors.ts';
import type { Logger } from '../infra/logger.ts';
import type { SessionManager } from '../sessions/session-manager.ts';
import { UsernameTakenError, type User, type UserRepository } from '../users/user-repository.ts';
import { usernameProblem } from '../users/username.ts';
import type { PasswordHasher } from './password-hasher.ts';
import { passwordProblem } from './password-policy.ts';

/** Account lifecycle shared by the HTTP routes, the admin bootstrap and the operator CLI. */
export class Accounts {
  private readonly users: UserRepository;
  private readonly hasher: PasswordHasher;
  private readonly sessions: SessionManager;
  private readonly logger: Logger;

  constructor(users: UserRepository, hasher: PasswordHasher, sessions: SessionManager, logger: Logger) {
    this.users = users;
    this.hasher = hasher;
    this.sessions = sessions;
    this.logger = logger;
  }

  /** Validates, hashes and stores a new user. 400 invalid/weak, 409 taken. */
  async create(username: string, password: string): Promise<User> {
    const nameProblem = usernameProblem(username);
    if (nameProblem) throw invalidRequest(nameProblem);
    this.assertPasswordAcceptable(password, username);
    const hash = await this.hasher.hash(password);
    try {
      const user = await this.users.create(username, hash);
      this.logger.info({ event: 'user.created', userId: user.id }, 'user created');
      return user;
    } catch (error) {
      if (error instanceof UsernameTakenError) throw usernameTaken();
      throw error;
    }
  }

  /**
   * Sets a new password and ends the user's sessions except `keepSessionId` (the caller's
   * own, which the route re-establishes with the returned user), in one step
   * (UserRepository.changePasswordHash).
   */
  async changePassword(
    user: Pick<User, 'id' | 'username'>,
    newPassword: string,
    keepSessionId?: string,
  ): Promise<{ user: Pick<User, 'id' | 'username' | 'passwordChangedAt'>; revoked: number }> {
    this.assertPasswordAcceptable(newPassword, user.username);
    const hash = await this.hasher.hash(newPassword);
    const keep = keepSessionId === undefined ? '' : this.sessions.memberOf(keepSessionId);
    const { changedAt, endedSessions: revoked } = await this.users.changePasswordHash(user.id, hash, keep);
    this.sessions.countRevoked('password_change', revoked);
    this.logger.info({ event: 'user.password_changed', userId: user.id, revokedSessions: revoked }, 'password changed');
    return { user: { id: user.id, username: user.username, passwordChangedAt: changedAt }, revoked };
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
