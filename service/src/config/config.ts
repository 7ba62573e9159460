import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { boolean, duration, integer, optionalSecret, resolveSecretFiles } from './setting-types.ts';

/**
 * The one configuration schema. Parsed once at start-up from the environment; an invalid
 * value stops the process with a message naming the key. Every secret also accepts
 * NAME_FILE (Docker/compose secrets), read and trimmed of its trailing newline.
 */

export class ConfigError extends Error {
  readonly issues: string[];

  constructor(issues: string[]) {
    super(`invalid configuration:\n  - ${issues.join('\n  - ')}`);
    this.issues = issues;
    this.name = 'ConfigError';
  }
}

/** Keys that may come from NAME_FILE instead of NAME. */
export const SECRET_KEYS = ['SESSION_SECRETS', 'REDIS_PASSWORD', 'METRICS_TOKEN', 'ADMIN_PASSWORD'] as const;

/**
 * The cookies' names, here once: a contract (the browser, the edge and scripts refer to them).
 * __Host- makes the browser insist on Secure, Path=/ and no Domain: the cookie cannot be planted
 * by a sibling subdomain or over plain HTTP; it only works on secure cookies.
 */
export const COOKIE_NAMES = {
  // parentDomain: with COOKIE_DOMAIN (apps on sibling subdomains), since __Host- forbids Domain.
  session: { secure: '__Host-sid', plain: 'sid', parentDomain: '__Secure-sid' },
  device: { secure: '__Host-device', plain: 'device' },
} as const;

/** Every setting the service reads, with its type, default and a one-line doc. */
const settings = {
  /** TCP port the service listens on. */
  PORT: integer(3000, 1, 65535),
  /** Interface to bind; 0.0.0.0 in containers, 127.0.0.1 behind a local nginx. */
  HOST: z.string().min(1).default('0.0.0.0'),
  /** Redis connection URL (redis:// or rediss://). */
  REDIS_URL: z
    .string()
    .default('redis://127.0.0.1:6379')
    .refine((v) => /^rediss?:\/\/[^\s]+$/.test(v), 'expected redis://host:port or rediss://host:port'),
  /** Redis password (requirepass); overrides one in REDIS_URL. With Sentinel, the Sentinels' too. */
  REDIS_PASSWORD: optionalSecret,
  /**
   * Redis through Sentinel (high availability): host:port of each Sentinel, comma-separated.
   * Set, it replaces REDIS_URL: the service asks the Sentinels for the primary and follows a failover.
   */
  REDIS_SENTINELS: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      if (!raw?.trim()) return undefined;
      const nodes = raw.split(',').map((entry) => {
        const match = /^\s*([^\s:]+|\[[^\]]+\]):(\d{1,5})\s*$/.exec(entry);
        if (!match) {
          ctx.addIssue({ code: 'custom', message: `expected host:port, got "${entry.trim()}"` });
          return undefined;
        }
        return { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) };
      });
      return nodes.every((n) => n !== undefined) ? nodes : z.NEVER;
    }),
  /** The name the Sentinels monitor the primary under (sentinel monitor <name> ...). */
  REDIS_SENTINEL_NAME: z
    .string()
    .regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected 1-64 of A-Z a-z 0-9 . _ -')
    .default('authstack'),
  /** Prefix of every Redis key this service writes, so it can share a Redis safely. */
  REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,32}$/, 'expected 1-32 of A-Z a-z 0-9 : _ -')
    .default('authstack:'),
  /** Milliseconds a Redis command may take before the request fails with 503. */
  REDIS_COMMAND_TIMEOUT_MS: integer(1500, 50, 60_000),
  /** Comma-separated session secrets, newest first: the first signs, all verify. */
  SESSION_SECRETS: z
    .string({ message: 'is required (comma-separated, newest first, each at least 32 characters)' })
    .transform((raw, ctx) => {
      const secrets = raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      if (secrets.length === 0) {
        ctx.addIssue({ code: 'custom', message: 'must list at least one secret' });
        return z.NEVER;
      }
      secrets.forEach((secret, index) => {
        if (secret.length < 32) {
          ctx.addIssue({
            code: 'custom',
            message: `secret #${index + 1} is ${secret.length} characters; each must be at least 32`,
          });
        }
      });
      if (new Set(secrets).size !== secrets.length) {
        ctx.addIssue({ code: 'custom', message: 'lists the same secret twice' });
      }
      return secrets;
    }),
  /**
   * Who may say who the client is (X-Forwarded-For): the edge's addresses, as a subnet list
   * (names like loopback work), so a request from any other peer keeps its socket address.
   * A hop count trusts whichever peer connects; only for a port nothing else can reach. Never "true".
   */
  TRUST_PROXY: z
    .string()
    .default('loopback')
    .transform((raw, ctx): number | string[] => {
      const value = raw.trim();
      if (/^\d+$/.test(value)) return Number(value);
      if (value === 'true' || value === 'false' || value === '') {
        ctx.addIssue({
          code: 'custom',
          message:
            'must be a subnet list (e.g. loopback, 172.30.97.0/24) or a hop count, never true/false: "true" lets clients spoof X-Forwarded-For',
        });
        return z.NEVER;
      }
      return value
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    }),
  /** Secure cookies (named __Host-...: COOKIE_NAMES). false only for local plain-HTTP development. */
  COOKIE_SECURE: boolean(true),
  /**
   * A parent domain of PUBLIC_ORIGIN's host (e.g. example.com for auth.example.com) when apps on
   * its other subdomains are protected (forward auth): the session cookie becomes
   * __Secure-sid; Domain=<it>. Unset: __Host-sid, this host only.
   */
  COOKIE_DOMAIN: z
    .string()
    .optional()
    .transform((v) => (v ? v.toLowerCase().replace(/^\./, '') : undefined)),
  /** The forward-auth access rules (JSON, forward-auth/access-rules.ts); unset: every verify is denied. */
  ACCESS_RULES_FILE: z
    .string()
    .optional()
    .transform((v) => (v ? v : undefined)),
  /** The origin browsers use, e.g. https://localhost; unsafe requests from others get 403. */
  PUBLIC_ORIGIN: z
    .string()
    .default('https://localhost')
    .transform((raw, ctx) => {
      try {
        const url = new URL(raw);
        if ((url.protocol === 'https:' || url.protocol === 'http:') && url.origin === raw.replace(/\/$/, ''))
          return url.origin;
      } catch {
        /* reported below */
      }
      ctx.addIssue({
        code: 'custom',
        message: `expected an origin like https://example.com (scheme, host, optional port), got "${raw}"`,
      });
      return z.NEVER;
    }),
  /** Idle timeout: a session unused this long is ended. */
  SESSION_IDLE_TIMEOUT: duration('30m'),
  /** Absolute timeout: a session this old is ended however active it is. */
  SESSION_ABSOLUTE_TIMEOUT: duration('12h'),
  /** Sessions a user may hold at once; a new login beyond it ends the oldest. */
  MAX_SESSIONS_PER_USER: integer(20, 1, 1000),
  /**
   * GET and HEAD requests load their session through the read path (sessions/session-read-path.ts)
   * instead of express-session's per-request machinery; false sends every request through
   * express-session (what the read path is tested equal to).
   */
  SESSION_READ_PATH: boolean(true),
  /** How long a browser that signed in stays a trusted device for that user (login throttling). */
  DEVICE_COOKIE_MAX_AGE: duration('90d'),
  /** Bearer token for /metrics. Unset: /metrics is open (keep it off the public edge). */
  METRICS_TOKEN: optionalSecret,
  /** At start, create this user if it does not exist (with ADMIN_PASSWORD). */
  ADMIN_USERNAME: z
    .string()
    .optional()
    .transform((v) => (v ? v : undefined)),
  /** Password for ADMIN_USERNAME; only used when the user is created. */
  ADMIN_PASSWORD: optionalSecret,
  /** pino log level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /**
   * json (always in production: one JSON object per line, for the log pipeline) or pretty
   * (readable, coloured lines through pino-pretty, a dev dependency: local development only,
   * refused when NODE_ENV=production). `make logs` makes JSON readable without it.
   */
  LOG_FORMAT: z.enum(['json', 'pretty']).default('json'),
  /** argon2id memory cost in KiB (OWASP minimum 19456). */
  ARGON2_MEMORY_KIB: integer(19456, 19456, 4_194_304),
  /** argon2id iterations (OWASP minimum 2 at 19 MiB). */
  ARGON2_TIME_COST: integer(2, 2, 100),
  /** argon2id lanes. */
  ARGON2_PARALLELISM: integer(1, 1, 16),
  /**
   * Password hashes computed at once; the rest wait in the queue. Default: the CPU cores (more
   * only makes argon2 threads fight each other and the event loop for the same cores).
   */
  HASH_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(availableParallelism),
  /** Hashes allowed to wait; past that, 503 busy at once. */
  HASH_QUEUE_LIMIT: integer(32, 0, 10_000),
  /** Consecutive failures per (username, IP) before 429. */
  LOGIN_MAX_CONSECUTIVE_FAILURES: integer(10, 1, 10_000),
  /** Window of the per-(username, IP) counter; also how long the lockout lasts. */
  LOGIN_FAILURE_WINDOW: duration('15m'),
  /** Failures per IP per hour, across usernames. */
  LOGIN_MAX_FAILURES_PER_IP_PER_HOUR: integer(100, 1, 1_000_000),
  /** Failures per account per hour, across IPs. */
  LOGIN_MAX_FAILURES_PER_ACCOUNT_PER_HOUR: integer(100, 1, 1_000_000),
  /**
   * Failures per account per hour from browsers holding a device cookie for it, across all of
   * them: a separate budget, so that anonymous guessing cannot lock the user out of their own
   * browsers, and bounded, so that many device cookies do not multiply the guesses.
   */
  LOGIN_MAX_DEVICE_FAILURES_PER_ACCOUNT_PER_HOUR: integer(100, 1, 1_000_000),
  /** Enables POST /api/register. */
  SIGNUP_ENABLED: boolean(false),
  /** Registrations allowed per IP per hour. */
  SIGNUP_MAX_PER_IP_PER_HOUR: integer(10, 1, 1_000_000),
  /** How long in-flight requests get to finish on SIGTERM. */
  SHUTDOWN_TIMEOUT: duration('10s'),
  /**
   * On SIGTERM, how long to keep serving (readiness 503, `Connection: close` on every answer)
   * before the listener closes: the time an edge that re-resolves replicas by DNS (swarm,
   * Kubernetes endpoints) needs to stop sending new requests here. 0 on a single host.
   */
  SHUTDOWN_DRAIN_DELAY: duration('0s', { allowZero: true }),
};

/** The names of every setting: the stack tooling passes exactly these from .env to the service. */
export const CONFIG_KEYS = Object.keys(settings) as Array<keyof typeof settings>;

const schema = z.object(settings).superRefine((cfg, ctx) => {
  if (cfg.SESSION_ABSOLUTE_TIMEOUT < cfg.SESSION_IDLE_TIMEOUT) {
    ctx.addIssue({
      code: 'custom',
      path: ['SESSION_ABSOLUTE_TIMEOUT'],
      message: 'must not be shorter than SESSION_IDLE_TIMEOUT',
    });
  }
  if (cfg.ADMIN_USERNAME && !cfg.ADMIN_PASSWORD) {
    ctx.addIssue({
      code: 'custom',
      path: ['ADMIN_PASSWORD'],
      message: 'is required when ADMIN_USERNAME is set (or use ADMIN_PASSWORD_FILE)',
    });
  }
  // The Sentinel client connects in plain TCP to the Sentinels and to the nodes they name: a
  // rediss:// REDIS_URL would silently stop applying, so the pair is refused rather than
  // quietly downgraded.
  if (cfg.REDIS_SENTINELS && cfg.REDIS_URL.startsWith('rediss://')) {
    ctx.addIssue({
      code: 'custom',
      path: ['REDIS_SENTINELS'],
      message:
        'cannot be combined with a rediss:// REDIS_URL: TLS through Sentinel is not supported; use Sentinel on a private network, or a single TLS Redis without REDIS_SENTINELS',
    });
  }
});

export type Env = z.input<typeof schema>;
type Parsed = z.output<typeof schema>;

export interface Config {
  port: number;
  host: string;
  redis: {
    url: string;
    password?: string;
    keyPrefix: string;
    commandTimeoutMs: number;
    /** Set: connect through these Sentinels instead of REDIS_URL. */
    sentinel?: { nodes: Array<{ host: string; port: number }>; name: string };
  };
  session: {
    secrets: string[];
    cookieSecure: boolean;
    cookieName: string;
    /** Set: the session cookie is for this parent domain (COOKIE_DOMAIN). */
    cookieDomain?: string;
    idleTimeoutMs: number;
    absoluteTimeoutMs: number;
    maxSessionsPerUser: number;
    readPath: boolean;
  };
  device: { cookieName: string; maxAgeMs: number };
  trustProxy: number | string[];
  publicOrigin: string;
  accessRulesFile?: string;
  metricsToken?: string;
  admin?: { username: string; password: string };
  logLevel: Parsed['LOG_LEVEL'];
  logFormat: Parsed['LOG_FORMAT'];
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  hashing: { concurrency: number; queueLimit: number };
  throttle: {
    maxConsecutiveFailures: number;
    failureWindowMs: number;
    maxFailuresPerIpPerHour: number;
    maxFailuresPerAccountPerHour: number;
    maxDeviceFailuresPerAccountPerHour: number;
    maxSignupsPerIpPerHour: number;
  };
  signupEnabled: boolean;
  shutdownTimeoutMs: number;
  shutdownDrainDelayMs: number;
}

/**
 * What loadConfig (or another loader that throws ConfigError, such as the renewer's) refuses in a
 * configuration, without throwing: nothing when the process would start.
 * The stack tooling checks .env with it before it starts or builds anything.
 */
export function configIssues(env: NodeJS.ProcessEnv, load: (env: NodeJS.ProcessEnv) => unknown = loadConfig): string[] {
  try {
    load(env);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const issues: string[] = [];
  const resolved = resolveSecretFiles(env, SECRET_KEYS, issues);
  const result = schema.safeParse(resolved);
  if (!result.success) {
    for (const issue of result.error.issues) {
      issues.push(`${issue.path.join('.') || '(root)'}: ${issue.message}`);
    }
  }
  if (result.success && result.data.LOG_FORMAT === 'pretty' && env.NODE_ENV === 'production') {
    issues.push(
      'LOG_FORMAT: pretty is for local development; with NODE_ENV=production the logs are JSON lines (make logs shows them readably)',
    );
  }
  if (result.success && result.data.COOKIE_DOMAIN) {
    const { COOKIE_DOMAIN: domain, PUBLIC_ORIGIN, COOKIE_SECURE } = result.data;
    const host = new URL(PUBLIC_ORIGIN).hostname;
    if (!COOKIE_SECURE) issues.push('COOKIE_DOMAIN: needs COOKIE_SECURE=true (the cookie is then __Secure-sid)');
    if (!host.endsWith(`.${domain}`) || !domain.includes('.'))
      issues.push(`COOKIE_DOMAIN: must be a parent domain of PUBLIC_ORIGIN's host ${host}, got "${domain}"`);
  }
  if (issues.length > 0 || !result.success) throw new ConfigError(issues);
  const c = result.data;
  return {
    port: c.PORT,
    host: c.HOST,
    redis: {
      url: c.REDIS_URL,
      password: c.REDIS_PASSWORD,
      keyPrefix: c.REDIS_KEY_PREFIX,
      commandTimeoutMs: c.REDIS_COMMAND_TIMEOUT_MS,
      sentinel: c.REDIS_SENTINELS ? { nodes: c.REDIS_SENTINELS, name: c.REDIS_SENTINEL_NAME } : undefined,
    },
    session: {
      secrets: c.SESSION_SECRETS,
      cookieSecure: c.COOKIE_SECURE,
      cookieName: COOKIE_NAMES.session[c.COOKIE_DOMAIN ? 'parentDomain' : c.COOKIE_SECURE ? 'secure' : 'plain'],
      cookieDomain: c.COOKIE_DOMAIN,
      idleTimeoutMs: c.SESSION_IDLE_TIMEOUT,
      absoluteTimeoutMs: c.SESSION_ABSOLUTE_TIMEOUT,
      maxSessionsPerUser: c.MAX_SESSIONS_PER_USER,
      readPath: c.SESSION_READ_PATH,
    },
    device: {
      cookieName: COOKIE_NAMES.device[c.COOKIE_SECURE ? 'secure' : 'plain'],
      maxAgeMs: c.DEVICE_COOKIE_MAX_AGE,
    },
    trustProxy: c.TRUST_PROXY,
    publicOrigin: c.PUBLIC_ORIGIN,
    accessRulesFile: c.ACCESS_RULES_FILE,
    metricsToken: c.METRICS_TOKEN,
    admin:
      c.ADMIN_USERNAME && c.ADMIN_PASSWORD ? { username: c.ADMIN_USERNAME, password: c.ADMIN_PASSWORD } : undefined,
    logLevel: c.LOG_LEVEL,
    logFormat: c.LOG_FORMAT,
    argon2: { memoryCost: c.ARGON2_MEMORY_KIB, timeCost: c.ARGON2_TIME_COST, parallelism: c.ARGON2_PARALLELISM },
    hashing: { concurrency: c.HASH_CONCURRENCY, queueLimit: c.HASH_QUEUE_LIMIT },
    throttle: {
      maxConsecutiveFailures: c.LOGIN_MAX_CONSECUTIVE_FAILURES,
      failureWindowMs: c.LOGIN_FAILURE_WINDOW,
      maxFailuresPerIpPerHour: c.LOGIN_MAX_FAILURES_PER_IP_PER_HOUR,
      maxFailuresPerAccountPerHour: c.LOGIN_MAX_FAILURES_PER_ACCOUNT_PER_HOUR,
      maxDeviceFailuresPerAccountPerHour: c.LOGIN_MAX_DEVICE_FAILURES_PER_ACCOUNT_PER_HOUR,
      maxSignupsPerIpPerHour: c.SIGNUP_MAX_PER_IP_PER_HOUR,
    },
    signupEnabled: c.SIGNUP_ENABLED,
    shutdownTimeoutMs: c.SHUTDOWN_TIMEOUT,
    shutdownDrainDelayMs: c.SHUTDOWN_DRAIN_DELAY,
  };
}
