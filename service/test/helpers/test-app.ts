import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import type { Express } from 'express';
import { afterAll, beforeAll } from '@jest/globals';
import request from 'supertest';
import { startRedisServer, type RedisServer } from '../../../testkit/redis-server.ts';
import { createApp } from '../../src/app.ts';
import { bootstrap, type Runtime } from '../../src/bootstrap.ts';
import { COOKIE_NAMES } from '../../src/config/config.ts';
import type { Lifecycle } from '../../src/lifecycle.ts';
import type { Metrics } from '../../src/infra/metrics.ts';
import type { RedisClient } from '../../src/infra/redis-client.ts';
import type { Clock } from '../../src/infra/clock.ts';
import { TEST_REDIS_URL } from './global-setup.ts';

export const SECRET_A = 'secret-A-'.padEnd(40, 'a');
export const SECRET_B = 'secret-B-'.padEnd(40, 'b');
export const PUBLIC_ORIGIN = 'https://auth.example.test';
/** The session and device cookies' names over HTTPS (the app's contract: config's COOKIE_NAMES). */
export const SESSION_COOKIE = COOKIE_NAMES.session.secure;
export const DEVICE_COOKIE = COOKIE_NAMES.device.secure;

/** A clock tests move by hand, for idle and absolute expiry. */
export class TestClock implements Clock {
  // Starts at real time: Redis TTLs (PEXPIREAT) are real-time, so the clock must not start in the past.
  private current: number;

  constructor(start = Date.now()) {
    this.current = start;
  }
  now() {
    return this.current;
  }
  advance(ms: number) {
    this.current += ms;
  }
}

/** Captures every JSON log line, so tests can assert on auth events and on redaction. */
export class LogCapture {
  readonly lines: Array<Record<string, unknown>> = [];
  readonly raw: string[] = [];
  readonly stream = new Writable({
    write: (chunk: Buffer, _enc, done) => {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        this.raw.push(line);
        this.lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  events(name: string) {
    return this.lines.filter((l) => l.event === name);
  }
}

export interface TestApp extends Runtime {
  app: Express;
  clock: TestClock;
  logs: LogCapture;
  lifecycle: Lifecycle;
  prefix: string;
}

/** The test Redis (started by globalSetup, or REDIS_URL). */
export function redisUrl(): string {
  const url = process.env[TEST_REDIS_URL];
  if (!url)
    throw new Error(
      `${TEST_REDIS_URL} is not set: integration tests run under jest's integration project (globalSetup)`,
    );
  return url;
}

/** Environment for loadConfig; tests override single keys. */
export function testEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return {
    REDIS_URL: redisUrl(),
    // A random prefix per app: test files share one Redis but never each other's keys.
    REDIS_KEY_PREFIX: `t${randomBytes(6).toString('hex')}:`,
    SESSION_SECRETS: SECRET_A,
    PUBLIC_ORIGIN,
    LOG_LEVEL: 'info',
    ...overrides,
  };
}

/**
 * For a describe block whose test needs Redis to itself: server-wide command counts, dumps,
 * stopping or freezing it. Starts a redis-server and builds the app on it before the block's
 * tests and closes both after; `ready` receives them (the block keeps them in its own `let`s).
 */
export function onOwnRedis(
  ready: (t: TestApp, redis: RedisServer) => void,
  options: { server?: Parameters<typeof startRedisServer>[0]; env?: Record<string, string>; clock?: TestClock } = {},
): void {
  let redis: RedisServer | undefined;
  let t: TestApp | undefined;
  beforeAll(async () => {
    redis = await startRedisServer(options.server);
    t = await buildTestApp({ ...options.env, REDIS_URL: redis.url }, { clock: options.clock });
    ready(t, redis);
  });
  afterAll(async () => {
    await t?.close();
    await redis?.stop();
  });
}

/** Builds the real app on the real test Redis, with a test clock and captured logs. */
export async function buildTestApp(
  overrides: Record<string, string | undefined> = {},
  options: { clock?: TestClock; redis?: RedisClient } = {},
): Promise<TestApp> {
  const logs = new LogCapture();
  const clock = options.clock ?? new TestClock(Date.now());
  // The same start-up chain as the server, with a test clock, captured logs and no
  // process metrics; the decoy hash is made lazily (tests that time it warm it up).
  const runtime = await bootstrap({
    env: testEnv(overrides),
    clock,
    logDestination: logs.stream,
    defaultMetrics: false,
    redis: options.redis,
  });
  const { app, lifecycle } = createApp(runtime);
  return { ...runtime, app, clock, logs, lifecycle, prefix: runtime.config.redis.keyPrefix };
}

export function uniqueUsername(base = 'user'): string {
  return `${base}-${randomBytes(5).toString('hex')}`;
}

export const GOOD_PASSWORD = 'correct horse battery staple';

/** Creates a user straight through the domain (what the CLI and admin bootstrap do). */
export async function createUser(t: TestApp, username = uniqueUsername(), password = GOOD_PASSWORD) {
  const user = await t.domain.accounts.create(username, password);
  return { user, username, password };
}

/**
 * Requests as nginx forwards them: over HTTPS at the edge (X-Forwarded-Proto), so the
 * Secure cookie is issued, from the trusted loopback hop.
 */
export function viaEdge(app: Express) {
  const agent = request(app);
  const wrap = (test: request.Test) => test.set('X-Forwarded-Proto', 'https');
  return {
    get: (path: string) => wrap(agent.get(path)),
    head: (path: string) => wrap(agent.head(path)),
    post: (path: string) => wrap(agent.post(path)),
    delete: (path: string) => wrap(agent.delete(path)),
    put: (path: string) => wrap(agent.put(path)),
    patch: (path: string) => wrap(agent.patch(path)),
  };
}

/** The session cookie ("name=value") from a response, or undefined. */
export function sessionCookie(res: request.Response, name: string = SESSION_COOKIE): string | undefined {
  const header = res.headers['set-cookie'] as unknown as string[] | undefined;
  const line = header?.find((c) => c.startsWith(`${name}=`));
  return line?.split(';')[0];
}

/** The session id inside a signed cookie ("<name>=s%3A<id>.<signature>"). */
export function sessionIdOf(cookie: string): string {
  return decodeURIComponent(cookie.split('=')[1]!).slice(2).split('.')[0]!;
}

/** Logs in through the real POST /api/login endpoint and returns the session cookie. */
export async function login(
  t: TestApp,
  username: string,
  password: string,
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await viaEdge(t.app).post('/api/login').set(headers).send({ username, password });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  const cookie = sessionCookie(res);
  if (!cookie) throw new Error('login set no session cookie');
  return cookie;
}

/** Reads one metric's value (sum over matching labels) from the app's registry. */
export async function metricValue(
  metrics: Metrics,
  name: string,
  labels: Record<string, string> = {},
): Promise<number> {
  const metric = await metrics.registry.getSingleMetric(name)?.get();
  if (!metric) return 0;
  return metric.values
    .filter((v) => !('metricName' in v) || v.metricName === name || v.metricName === undefined)
    .filter((v) => Object.entries(labels).every(([k, val]) => (v.labels as Record<string, unknown>)[k] === val))
    .reduce((sum, v) => sum + v.value, 0);
}

/** The Redis key of the session with this id (Redis only ever holds the id's digest). */
export function sessionKey(t: TestApp, sessionId: string): string {
  return t.domain.keys.session(t.domain.keys.sessionMember(sessionId));
}
