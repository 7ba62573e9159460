import type { Config } from './config/config.ts';
import type { Clock } from './infra/clock.ts';
import type { Logger } from './infra/logger.ts';
import type { Metrics } from './infra/metrics.ts';
import { replicaAcknowledgement, type RedisClient } from './infra/redis-client.ts';
import { RedisKeys } from './infra/redis-keys.ts';
import { Accounts } from './auth/accounts.ts';
import { Authenticator } from './auth/authenticator.ts';
import { DeviceTrust } from './auth/device-trust.ts';
import { FailureCounters } from './auth/failure-counters.ts';
import { LoginThrottle, SignupLimit } from './auth/login-throttle.ts';
import { PasswordHasher } from './auth/password-hasher.ts';
import { SessionManager } from './sessions/session-manager.ts';
import { SessionStore } from './sessions/session-store.ts';
import { UserRepository } from './users/user-repository.ts';
import { AccessPolicy } from './forward-auth/access-policy.ts';

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
  const replicated = replicaAcknowledgement(redis, config.redis.sentinel !== undefined);
  const users = new UserRepository({ redis, keys, clock, replicated });
  const hasher = new PasswordHasher({ params: config.argon2, limits: config.hashing, metrics });
  const counters = new FailureCounters({ redis });
  const throttle = new LoginThrottle({ counters, keys, limits: config.throttle });
  const signupLimit = new SignupLimit({ counters, keys, perHour: config.throttle.maxSignupsPerIpPerHour });
  const devices = new DeviceTrust({ secrets: config.session.secrets, maxAgeMs: config.device.maxAgeMs, clock });
  const sessionStore = new SessionStore({ redis, keys, session: config.session, clock, logger, metrics, replicated });
  const sessions = new SessionManager({ store: sessionStore, config: config.session, clock, metrics, logger });
  const authenticator = new Authenticator({ users, hasher, throttle, devices, metrics, logger });
  const accounts = new Accounts({ users, hasher, sessions, logger });
  const access = new AccessPolicy({ file: config.accessRulesFile, publicOrigin: config.publicOrigin, logger });
  return {
    access,
    keys,
    users,
    hasher,
    throttle,
    signupLimit,
    devices,
    sessionStore,
    sessions,
    authenticator,
    accounts,
  };
}
