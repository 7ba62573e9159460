import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { sign } from 'cookie-signature';
import session, { Cookie, type SessionData } from 'express-session';
import type request from 'supertest';
import { repoRoot } from '../../../testkit/repo.ts';
import {
  SESSION_COOKIE,
  GOOD_PASSWORD,
  SECRET_A,
  SECRET_B,
  TestClock,
  buildTestApp,
  createUser,
  login,
  metricValue,
  uniqueUsername,
  viaEdge,
  type TestApp,
  sessionIdOf,
} from '../helpers/test-app.ts';

const MINUTE = 60_000;
/** Expiry stamps come from the real clock at the moment of each run: runs milliseconds apart agree within this. */
const CLOCK_SLACK_MS = 2_000;

type Snapshot = Array<{ key: string; type: string; value: unknown; ttlMs: number }>;

/** Everything under the apps' key prefix: type, value and TTL of each key (sorted, comparable). */
async function redisState(t: TestApp): Promise<Snapshot> {
  const keys = (await t.redis.keys(`${t.prefix}*`)).sort();
  const state: Snapshot = [];
  for (const key of keys) {
    const type = await t.redis.type(key);
    const ttlMs = await t.redis.pTTL(key);
    let value: unknown;
    if (type === 'string') value = await t.redis.get(key);
    else if (type === 'hash') value = await t.redis.hGetAll(key);
    else if (type === 'set') value = (await t.redis.sMembers(key)).sort();
    else if (type === 'zset') value = await t.redis.zRangeWithScores(key, 0, -1);
    state.push({ key, type, value, ttlMs });
  }
  return state;
}

/** Puts Redis back to a snapshot: the second run of a request starts from exactly where the first did. */
async function restore(t: TestApp, snapshot: Snapshot): Promise<void> {
  const now = await t.redis.keys(`${t.prefix}*`);
  if (now.length > 0) await t.redis.del(now);
  for (const { key, type, value, ttlMs } of snapshot) {
    if (type === 'string') await t.redis.set(key, value as string);
    else if (type === 'hash') await t.redis.hSet(key, value as Record<string, string>);
    else if (type === 'set') await t.redis.sAdd(key, value as string[]);
    else if (type === 'zset') await t.redis.zAdd(key, value as Array<{ value: string; score: number }>);
    if (ttlMs > 0) await t.redis.pExpire(key, ttlMs);
  }
}

/** A run's observable result, with the expiry stamps (real clock) taken out and kept for a tolerance check. */
interface Outcome {
  status: number;
  body: string;
  setCookie: string[];
  redis: Snapshot;
  fallbacks: number;
  expiries: number[];
}

function comparable(res: request.Response, redis: Snapshot, fallbacks: number): Outcome {
  const expiries: number[] = [];
  const setCookie = ((res.headers['set-cookie'] as unknown as string[] | undefined) ?? []).map((c) =>
    c.replace(/Expires=([^;]+)/, (_m, date: string) => {
      expiries.push(Date.parse(date));
      return 'Expires=<expiry>';
    }),
  );
  const normalized = redis.map((entry) => {
    const ttl = entry.ttlMs > 0 ? (expiries.push(Date.now() + entry.ttlMs), '<ttl>') : entry.ttlMs;
    if (entry.type !== 'string' || !entry.key.includes(':sess:')) return { ...entry, ttlMs: ttl };
    const record = JSON.parse(entry.value as string) as { cookie?: { expires?: string; originalMaxAge?: unknown } };
    if (record.cookie?.expires) {
      expiries.push(Date.parse(record.cookie.expires));
      record.cookie.expires = '<expiry>';
    }
    // express-session derives it from `expires` and the time of the write: a millisecond apart between two runs.
    if (typeof record.cookie?.originalMaxAge === 'number') {
      expiries.push(record.cookie.originalMaxAge);
      record.cookie.originalMaxAge = '<max age>';
    }
    return { ...entry, value: record, ttlMs: ttl };
  });
  return { status: res.status, body: res.text ?? '', setCookie, redis: normalized as Snapshot, fallbacks, expiries };
}

/**
 * The differential test of the read path (sessions/session-read-path.ts): two deploys of the
 * service over one Redis and key prefix, one with the read path and one with express-session
 * alone (SESSION_READ_PATH=false), on one clock. For each cookie state, each request runs twice
 * from the same Redis state, once through each, and both must give the same status, body,
 * Set-Cookie, Redis state afterwards and secret-fallback count.
 */
describe('the read path gives what express-session alone gives', () => {
  const clock = new TestClock();
  const secrets = `${SECRET_B},${SECRET_A}`;
  const env = { SESSION_SECRETS: secrets, SESSION_IDLE_TIMEOUT: '30m', SESSION_ABSOLUTE_TIMEOUT: '1h' };
  let withReadPath: TestApp;
  let expressSessionOnly: TestApp;
  /** A deploy from before the rotation (SESSION_SECRETS=A), over the same data. */
  let beforeRotation: TestApp;

  beforeAll(async () => {
    withReadPath = await buildTestApp(env, { clock });
    const shared = { ...env, REDIS_KEY_PREFIX: withReadPath.prefix };
    expressSessionOnly = await buildTestApp({ ...shared, SESSION_READ_PATH: 'false' }, { clock });
    beforeRotation = await buildTestApp({ ...shared, SESSION_SECRETS: SECRET_A }, { clock });
  });
  afterAll(() => Promise.all([withReadPath.close(), expressSessionOnly.close(), beforeRotation.close()]));

  const REQUESTS = [
    { name: 'GET /api/me', send: (t: TestApp) => viaEdge(t.app).get('/api/me') },
    { name: 'HEAD /api/me', send: (t: TestApp) => viaEdge(t.app).head('/api/me') },
    { name: 'GET /api/sessions', send: (t: TestApp) => viaEdge(t.app).get('/api/sessions') },
    { name: 'GET / (dashboard)', send: (t: TestApp) => viaEdge(t.app).get('/') },
    { name: 'POST /api/logout', send: (t: TestApp) => viaEdge(t.app).post('/api/logout') },
  ];

  /** Runs every request through both deploys from the same state, and compares. */
  async function expectSameThroughBoth(cookie: string | undefined, during?: (t: TestApp) => void): Promise<void> {
    const start = await redisState(withReadPath);
    for (const { name, send } of REQUESTS) {
      const outcomes: Outcome[] = [];
      for (const t of [withReadPath, expressSessionOnly]) {
        await restore(t, start);
        during?.(t);
        const before = await metricValue(t.metrics, 'session_secret_fallback_total');
        const call = send(t);
        const res = await (cookie === undefined ? call : call.set('Cookie', cookie));
        const fallbacks = (await metricValue(t.metrics, 'session_secret_fallback_total')) - before;
        outcomes.push(comparable(res, await redisState(t), fallbacks));
      }
      const [viaReadPath, viaExpressSession] = outcomes as [Outcome, Outcome];
      const { expiries: a, ...first } = viaReadPath;
      const { expiries: b, ...second } = viaExpressSession;
      expect({ request: name, ...first }).toEqual({ request: name, ...second });
      expect(a.length).toBe(b.length);
      a.forEach((expiry, i) => expect(Math.abs(expiry - b[i]!)).toBeLessThanOrEqual(CLOCK_SLACK_MS));
    }
  }

  const signed = (id: string, secret: string) => `${SESSION_COOKIE}=${encodeURIComponent(`s:${sign(id, secret)}`)}`;
  const newUser = () => createUser(withReadPath, uniqueUsername('diff'));
  const signIn = async (t: TestApp = withReadPath) => {
    const { username, password, user } = await createUser(t, uniqueUsername('diff'));
    return { cookie: await login(t, username, password), username, password, user };
  };

  it('with no cookie', async () => {
    await expectSameThroughBoth(undefined);
  });

  it('with a fresh session', async () => {
    const { cookie } = await signIn();
    await expectSameThroughBoth(cookie);
  });

  it('with a session whose idle clock is due to move (a touch: saved, cookie re-issued)', async () => {
    const { cookie } = await signIn();
    clock.advance(MINUTE + 1_000);
    await expectSameThroughBoth(cookie);
  });

  it('with a tampered signature', async () => {
    const { cookie } = await signIn();
    await expectSameThroughBoth(cookie.replace(/.(;|$)/, (c) => (c[0] === 'A' ? 'B' : 'A') + c.slice(1)));
  });

  it('with an unsigned id', async () => {
    const { cookie } = await signIn();
    await expectSameThroughBoth(`${SESSION_COOKIE}=${sessionIdOf(cookie)}`);
  });

  it('with a cookie signed with an unknown secret', async () => {
    const { cookie } = await signIn();
    await expectSameThroughBoth(signed(sessionIdOf(cookie), 'an unknown secret, long enough to pass'));
  });

  it('with a cookie signed with the older secret after a rotation (fresh, and due a touch)', async () => {
    const { cookie } = await signIn(beforeRotation);
    await expectSameThroughBoth(cookie);
    clock.advance(MINUTE + 1_000);
    await expectSameThroughBoth(cookie);
  });

  it('with trailing bytes after the signature', async () => {
    const { cookie } = await signIn();
    await expectSameThroughBoth(`${cookie}x`);
    await expectSameThroughBoth(`${cookie}%00`);
  });

  it('with duplicate session cookies, in both orders', async () => {
    const { cookie } = await signIn();
    const other = signed('not-a-session', SECRET_B);
    await expectSameThroughBoth(`${cookie}; ${other}`);
    await expectSameThroughBoth(`${other}; ${cookie}`);
  });

  it('with the name without the __Host- prefix', async () => {
    const { cookie } = await signIn();
    await expectSameThroughBoth(cookie.replace(`${SESSION_COOKIE}=`, 'sid='));
  });

  it('after logout', async () => {
    const { cookie } = await signIn();
    await viaEdge(withReadPath.app).post('/api/logout').set('Cookie', cookie);
    await expectSameThroughBoth(cookie);
  });

  it('after "sign out everywhere else"', async () => {
    const { cookie, username, password } = await signIn();
    const other = await login(withReadPath, username, password);
    await viaEdge(withReadPath.app).delete('/api/sessions').set('Cookie', other);
    await expectSameThroughBoth(cookie);
  });

  it('past the idle timeout, with the record still in Redis', async () => {
    const { cookie } = await signIn();
    clock.advance(31 * MINUTE);
    await expectSameThroughBoth(cookie);
  });

  it('past the absolute timeout (used all along), with the record still in Redis', async () => {
    const { cookie } = await signIn();
    // Used every 20 minutes (each use moves the idle clock), then 21 minutes later: 61 minutes
    // old (absolute timeout 1 h), last seen 21 minutes ago (idle timeout 30 min).
    for (let i = 0; i < 2; i += 1) {
      clock.advance(20 * MINUTE);
      expect((await viaEdge(withReadPath.app).get('/api/me').set('Cookie', cookie)).status).toBe(200);
    }
    clock.advance(21 * MINUTE);
    await expectSameThroughBoth(cookie);
  });

  it('after a password change elsewhere', async () => {
    const { cookie, username, password } = await signIn();
    const elsewhere = await login(withReadPath, username, password);
    const change = await viaEdge(withReadPath.app)
      .post('/api/password')
      .set('Cookie', elsewhere)
      .send({ currentPassword: password, newPassword: 'a different passphrase, also long' });
    expect(change.status).toBe(204);
    await expectSameThroughBoth(cookie);
  });

  it('with a touch racing a logout (the session ends between its read and its save)', async () => {
    const { cookie, user } = await signIn();
    clock.advance(MINUTE + 1_000);
    const member = withReadPath.domain.keys.sessionMember(sessionIdOf(cookie));
    await expectSameThroughBoth(cookie, (t) => {
      const store = t.domain.sessionStore;
      const read = store.get.bind(store);
      // express-session calls get with a callback, the read path awaits it: both forms.
      jest
        .spyOn(store, 'get')
        .mockImplementationOnce(async (sid: string, callback?: (err: unknown, data?: SessionData | null) => void) => {
          const data = (await read(sid)) as SessionData | null;
          await store.revoke(user.id, [member]);
          return callback ? callback(null, data) : data;
        });
    });
  });

  it('after the user was removed', async () => {
    const { cookie, user } = await signIn();
    await withReadPath.domain.accounts.remove(await withReadPath.domain.users.findById(user.id).then((u) => u!));
    await expectSameThroughBoth(cookie);
  });

  it('after the user was removed and the name registered again', async () => {
    const { cookie, user, username } = await signIn();
    await withReadPath.domain.accounts.remove(await withReadPath.domain.users.findById(user.id).then((u) => u!));
    await createUser(withReadPath, username, GOOD_PASSWORD);
    await expectSameThroughBoth(cookie);
  });

  it('keeps its inputs independent of each other (a sanity check of the harness: the two deploys really differ)', async () => {
    expect(withReadPath.config.session.readPath).toBe(true);
    expect(expressSessionOnly.config.session.readPath).toBe(false);
    const { cookie } = await newUser().then(async ({ username, password }) => ({
      cookie: await login(withReadPath, username, password),
    }));
    expect((await viaEdge(expressSessionOnly.app).get('/api/me').set('Cookie', cookie)).status).toBe(200);
  });
});

/**
 * The express-session internals the read path depends on (its header lists them). These fail
 * when an express-session upgrade changes them: re-read session-read-path.ts against the new
 * version, run the differential test above, and only then move the pin.
 */
describe('express-session internals the read path relies on', () => {
  const require = createRequire(import.meta.url);

  it('express-session is pinned to an exact version, and that version is the one installed', () => {
    const pinned = (
      JSON.parse(readFileSync(`${repoRoot}/package.json`, 'utf8')) as { dependencies: Record<string, string> }
    ).dependencies['express-session'];
    const installed = (require('express-session/package.json') as { version: string }).version;

    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed).toBe(pinned);
  });

  it('a stored record becomes a Session through Store.prototype.createSession, with its cookie a Cookie and its expiry a Date', () => {
    const store = new session.MemoryStore();
    const req = { sessionID: 'an-id' } as unknown as Parameters<typeof store.createSession>[0];
    const record = {
      cookie: {
        originalMaxAge: 60_000,
        expires: new Date(Date.now() + 60_000).toISOString(),
        httpOnly: true,
        path: '/',
      },
      userId: 'u',
    };

    const made = store.createSession(req, record as unknown as SessionData);

    expect(made).toBeInstanceOf(session.Session);
    expect(made.id).toBe('an-id');
    expect(made.cookie).toBeInstanceOf(Cookie);
    expect(made.cookie.expires).toBeInstanceOf(Date);
    expect(made.cookie.originalMaxAge).toBe(60_000);
    expect((made as unknown as { userId: string }).userId).toBe('u');
  });

  it("a Cookie's data are the attributes cookie.serialize takes, and touch gives it a new expiry", () => {
    const cookie = Object.assign(new Cookie(), {
      maxAge: 60_000,
      httpOnly: true,
      secure: true,
      sameSite: 'lax',
      path: '/',
    });

    const data = (cookie as unknown as { data: Record<string, unknown> }).data;

    expect(Object.keys(data).sort()).toEqual([
      'domain',
      'expires',
      'httpOnly',
      'originalMaxAge',
      'partitioned',
      'path',
      'priority',
      'sameSite',
      'secure',
    ]);
    expect(typeof (session.Session.prototype as unknown as { touch: unknown }).touch).toBe('function');
  });
});
