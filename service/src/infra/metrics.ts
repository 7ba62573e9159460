import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The service's metrics on a per-app Registry: the global registry throws when a second
 * app registers the same names (every test builds its own app).
 */
export interface Metrics {
  registry: Registry;
  httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  loginAttempts: Counter<'result'>;
  sessionsCreated: Counter;
  sessionsRevoked: Counter<'reason'>;
  passwordHashDuration: Histogram<'operation'>;
  sessionSecretFallback: Counter;
  hashRejected: Counter;
}

export function createMetrics(options: { collectDefaults?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.collectDefaults ?? true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    httpRequestDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    loginAttempts: new Counter({
      name: 'auth_login_attempts_total',
      help: 'Login attempts by result (success, failure, throttled, busy, error)',
      labelNames: ['result'],
      registers,
    }),
    sessionsCreated: new Counter({
      name: 'auth_sessions_created_total',
      help: 'Sessions created by a successful login, registration or password change',
      registers,
    }),
    sessionsRevoked: new Counter({
      name: 'auth_sessions_revoked_total',
      help: 'Sessions ended, by reason (logout, idle_timeout, absolute_timeout, revoked, password_change, user_removed)',
      labelNames: ['reason'],
      registers,
    }),
    passwordHashDuration: new Histogram({
      name: 'password_hash_duration_seconds',
      help: 'Time spent in argon2 per operation (hash, verify), excluding queueing',
      labelNames: ['operation'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    sessionSecretFallback: new Counter({
      name: 'session_secret_fallback_total',
      help: 'Requests whose session cookie verified only with an older secret; at 0 for a full session lifetime the old secret can be dropped',
      registers,
    }),
    hashRejected: new Counter({
      name: 'password_hash_rejected_total',
      help: 'Hash/verify requests refused with 503 busy because the hashing queue was full',
      registers,
    }),
  };
}
