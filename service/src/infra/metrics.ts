import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { RedisClient } from './redis-client.ts';

/**
 * The service's metrics on a per-app Registry: the global registry throws when a second
 * app registers the same names (every test builds its own app).
 */
export interface Metrics {
  registry: Registry;
  httpRequestDuration: Histogram<'method' | 'route' | 'status_code'>;
  loginAttempts: Counter<'result'>;
  loginThrottled: Counter<'limit'>;
  sessionsCreated: Counter;
  sessionsRevoked: Counter<'reason'>;
  passwordHashDuration: Histogram<'operation'>;
  sessionSecretFallback: Counter;
  hashRejected: Counter;
  forwardAuthDecisions: Counter<'decision' | 'rule'>;
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
    loginThrottled: new Counter({
      name: 'auth_login_throttled_total',
      help: 'Login and password-change attempts refused by the throttle, by the limit that refused them (user_ip, ip, account, device)',
      labelNames: ['limit'],
      registers,
    }),
    sessionsCreated: new Counter({
      name: 'auth_sessions_created_total',
      help: 'Sessions created by a successful login, registration or password change',
      registers,
    }),
    forwardAuthDecisions: new Counter({
      name: 'auth_forward_auth_decisions_total',
      help: 'Forward-auth checks (GET /api/verify) by decision (allowed, denied, unauthenticated) and the rule that decided (its name in ACCESS_RULES_FILE, or none)',
      labelNames: ['decision', 'rule'],
      registers,
    }),
    sessionsRevoked: new Counter({
      name: 'auth_sessions_revoked_total',
      help: 'Sessions ended, by reason (logout, idle_timeout, absolute_timeout, revoked, password_change, user_removed, session_limit)',
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

/** INFO fields of the Redis this service runs on, read once per scrape. */
interface RedisInfo {
  up: boolean;
  evictedKeys: number;
  usedMemory: number;
  maxMemory: number;
}

function infoField(info: string, name: string): number {
  return Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? Number.NaN);
}

/**
 * Redis as the service sees it, on the same /metrics (no separate exporter): up, memory use
 * against maxmemory, and evicted keys, which must stay 0 (deploy/redis.conf runs noeviction; an
 * eviction means something dropped sessions or throttle counters, see the alert rules).
 */
export function observeRedis(metrics: Metrics, redis: RedisClient, timeoutMs: number): void {
  let pending: Promise<RedisInfo> | undefined;
  // All four gauges are collected in one scrape: one INFO round trip serves them all.
  const read = (): Promise<RedisInfo> => {
    pending ??= (async () => {
      try {
        let timer: NodeJS.Timeout | undefined;
        const info = await Promise.race([
          redis.info(),
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timeout')), timeoutMs))),
        ]).finally(() => clearTimeout(timer));
        return {
          up: true,
          evictedKeys: infoField(info, 'evicted_keys'),
          usedMemory: infoField(info, 'used_memory'),
          maxMemory: infoField(info, 'maxmemory'),
        };
      } catch {
        return { up: false, evictedKeys: Number.NaN, usedMemory: Number.NaN, maxMemory: Number.NaN };
      } finally {
        setImmediate(() => (pending = undefined));
      }
    })();
    return pending;
  };
  const registers = [metrics.registry];
  const gauge = (name: string, help: string, pick: (info: RedisInfo) => number) =>
    new Gauge({
      name,
      help,
      registers,
      async collect() {
        this.set(pick(await read()));
      },
    });
  gauge('redis_up', 'Whether Redis answered INFO for this scrape (1) or not (0)', (i) => (i.up ? 1 : 0));
  gauge(
    'redis_evicted_keys_total',
    'Keys Redis evicted since it started (INFO evicted_keys); must stay 0',
    (i) => i.evictedKeys,
  );
  gauge('redis_memory_used_bytes', 'Memory Redis uses (INFO used_memory)', (i) => i.usedMemory);
  gauge('redis_memory_max_bytes', 'maxmemory of Redis (INFO maxmemory; 0 = no limit)', (i) => i.maxMemory);
}
