import type { Config } from './config/config.ts';
import type { Clock } from './infra/clock.ts';
import type { Logger } from './infra/logger.ts';
import type { Metrics } from './infra/metrics.ts';
import type { RedisClient } from './infra/redis-client.ts';
import { Accounts } from './auth/accounts.ts';
import { Authenticator } from './auth/authenticator.ts';
import { IpRateLimit, LoginThrottle } from './auth/login-throttle.ts';
import { PasswordHasher } from './auth/password-hasher.ts';
import { SessionIndex } from './sessions/session-index.ts';
import { SessionManager } from './sessions/session-manager.ts';
import { createSessionStore } from './sessions/session-middleware.ts';
import { RedisKeys } from './infra/redis-keys.ts';
import { UserRepository } from './users/user-repository.ts';

export interface DomainDeps {
  config: Config;
  redis: RedisClient;
  logger: Logger;
  metrics: Metrics;
  clock: Clock;
}

export type Domain = ReturnType<typeof createDomain>;

/** Wires the domain objects once (bootstrap.ts); shared by the HTTP app and the operator CLI. */
export function createDomain({ config, redis, logger, metrics, clock }: DomainDeps) {
  const keys = new RedisKeys(config.redis.keyPrefix);
  const users = new UserRepository(redis, keys, clock);
  const hasher = new PasswordHasher(config.argon2, config.hashing, metrics);
  const throttle = new LoginThrottle(redis, keys, config.throttle);
  const signupLimit = new IpRateLimit(redis, keys.throttle('signup', 'ip'), config.throttle.maxSignupsPerIpPerHour, 3600);
  const sessionStore = createSessionStore(redis, keys, config, clock);
  const sessionIndex = new SessionIndex(redis, keys, config.session.absoluteTimeoutMs, clock);
  const sessions = new SessionManager(sessionStore, sessionIndex, config.session, clock, metrics, logger);
  const authenticator = new Authenticator(users, hasher, throttle, metrics, logger);
  const accounts = new Accounts(users, hasher, sessions, logger);
  return { keys, users, hasher, throttle, signupLimit, sessionStore, sessionIndex, sessions, authenticator, accounts };
}
