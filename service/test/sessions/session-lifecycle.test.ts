import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { sign } from 'cookie-signature';
import { commandCounts } from '../helpers/served.ts';
import {
  SESSION_COOKIE,
  SECRET_A,
  SECRET_B,
  TestClock,
  buildTestApp,
  onOwnRedis,
  createUser,
  login,
  metricValue,
  sessionCookie,
  viaEdge,
  type TestApp,
  sessionIdOf,
  sessionKey,
} from '../helpers/test-app.ts';

const MINUTE = 60_000;

describe('session timeouts (server-side, with an injected clock)', () => {
  let t: TestApp;
  const clock = new TestClock();
  beforeAll(async () => {
    t = await buildTestApp({ SESSION_IDLE_TIMEOUT: '30m', SESSION_ABSOLUTE_TIMEOUT: '2h' }, { clock });
  });
  afterAll(() => t.close());

  it('when a session stays unused past the idle timeout, then 401 and the session is deleted in Redis', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);
    const sid = sessionIdOf(cookie);

    clock.advance(30 * MINUTE + 1000);
    const res = await viaEdge(t.app).get('/api/me').set('Cookie', cookie);

    expect(res.status).toBe(401);
    expect(await t.redis.exists(sessionKey(t, sid))).toBe(0);
    expect(await metricValue(t.metrics, 'auth_sessions_revoked_total', { reason: 'idle_timeout' })).toBe(1);
  });

  it('when someone logs in while presenting an expired session cookie, then the login succeeds with a new session', async () => {
    const { username, password } = await createUser(t);
    const stale = await login(t, username, password);
    clock.advance(30 * MINUTE + 1000);

    const res = await viaEdge(t.app).post('/api/login').set('Cookie', stale).send({ username, password });
    const form = await viaEdge(t.app).post('/login').set('Cookie', stale).type('form').send({ username, password });

    expect(res.status).toBe(200);
    expect(form.status).toBe(303);
    const fresh = sessionCookie(res)!;
    expect(sessionIdOf(fresh)).not.toBe(sessionIdOf(stale));
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', fresh)).status).toBe(200);
  });

  it('when a session is used just inside the idle timeout, then it stays valid and the idle clock restarts', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);

    clock.advance(29 * MINUTE);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', cookie)).status).toBe(200);
    clock.advance(29 * MINUTE);
    const res = await viaEdge(t.app).get('/api/me').set('Cookie', cookie);

    expect(res.status).toBe(200);
  });

  it('when a session is older than the absolute timeout, then 401 even though it was used all along', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);

    for (let elapsed = 0; elapsed < 2 * 60 * MINUTE - 20 * MINUTE; elapsed += 20 * MINUTE) {
      clock.advance(20 * MINUTE);
      expect((await viaEdge(t.app).get('/api/me').set('Cookie', cookie)).status).toBe(200);
    }
    clock.advance(20 * MINUTE + 1000);
    const res = await viaEdge(t.app).get('/api/me').set('Cookie', cookie);

    expect(res.status).toBe(401);
    expect(await metricValue(t.metrics, 'auth_sessions_revoked_total', { reason: 'absolute_timeout' })).toBe(1);
  });

  it('when a session is stored, then its Redis TTL matches the idle timeout', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);
    const sid = sessionIdOf(cookie);

    const ttl = await t.redis.ttl(sessionKey(t, sid));

    expect(ttl).toBeGreaterThan(29 * 60);
    expect(ttl).toBeLessThanOrEqual(30 * 60);
  });
});

describe('cookies that are tampered with or signed with an unknown secret', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it('when the signature is altered, then 401 (no session), never a 5xx', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);
    const tampered = cookie.slice(0, -3) + (cookie.endsWith('AAA') ? 'BBB' : 'AAA');

    const res = await viaEdge(t.app).get('/api/me').set('Cookie', tampered);

    expect(res.status).toBe(401);
    expect(res.body.error).toBe('unauthenticated');
  });

  it('when a real session id is signed with a secret not in the list, then 401', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);
    const sid = sessionIdOf(cookie);
    const forged = `${SESSION_COOKIE}=${encodeURIComponent(`s:${sign(sid, 'an-attacker-secret-that-is-long-enough-xx')}`)}`;

    const res = await viaEdge(t.app).get('/api/me').set('Cookie', forged);

    expect(res.status).toBe(401);
  });

  it('when the cookie is not signed at all or is garbage, then 401', async () => {
    for (const value of ['plain-session-id', 's:', 's:abc', '%', 's:x.y.z', '']) {
      const res = await viaEdge(t.app).get('/api/me').set('Cookie', `${SESSION_COOKIE}=${value}`);
      expect({ value, status: res.status }).toEqual({ value, status: 401 });
    }
  });
});

describe('session secret rotation', () => {
  it('when SESSION_SECRETS goes from A to B,A, then an A cookie still works, is counted as a fallback and re-signed with B at its next touch; once A is dropped, an A cookie gives 401', async () => {
    // Three apps over one Redis and key prefix = three deploys of the service.
    const onlyA = await buildTestApp({ SESSION_SECRETS: SECRET_A });
    const env = { REDIS_KEY_PREFIX: onlyA.prefix };
    const rotatedClock = new TestClock();
    const rotated = await buildTestApp({ ...env, SESSION_SECRETS: `${SECRET_B},${SECRET_A}` }, { clock: rotatedClock });
    const onlyB = await buildTestApp({ ...env, SESSION_SECRETS: SECRET_B });
    try {
      const { username, password } = await createUser(onlyA);
      const cookieA = await login(onlyA, username, password);
      const cookieA2 = await login(onlyA, username, password);

      // A read within the touch interval writes nothing and re-signs nothing.
      const early = await viaEdge(rotated.app).get('/api/me').set('Cookie', cookieA);
      rotatedClock.advance(61_000);
      const res = await viaEdge(rotated.app).get('/api/me').set('Cookie', cookieA);
      const resigned = sessionCookie(res)!;

      expect(early.status).toBe(200);
      expect(sessionCookie(early)).toBeUndefined();
      expect(res.status).toBe(200);
      expect(resigned).not.toBe(cookieA);
      expect(resigned.split('.')[0]).toBe(cookieA.split('.')[0]); // same session, new signature
      expect(await metricValue(rotated.metrics, 'session_secret_fallback_total')).toBe(2);
      // The re-signed cookie verifies with the newest secret: no further fallback.
      expect((await viaEdge(rotated.app).get('/api/me').set('Cookie', resigned)).status).toBe(200);
      expect(await metricValue(rotated.metrics, 'session_secret_fallback_total')).toBe(2);
      // After A is dropped: the re-signed cookie still works, a never-refreshed A cookie does not.
      expect((await viaEdge(onlyB.app).get('/api/me').set('Cookie', resigned)).status).toBe(200);
      expect((await viaEdge(onlyB.app).get('/api/me').set('Cookie', cookieA2)).status).toBe(401);
    } finally {
      await Promise.all([onlyA.close(), rotated.close(), onlyB.close()]);
    }
  });
});

describe('what a signed-in read costs Redis (express-session with the store)', () => {
  let t: TestApp;
  const clock = new TestClock();
  // Its own redis-server: the command counts are server-wide.
  onOwnRedis((app) => (t = app), { clock });

  it('when a session is read within the touch interval, then Redis runs one GET and no write, and no cookie is set; when the idle clock is due, one conditional write and a re-issued cookie', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);

    const before = await commandCounts(t.redis);
    const fresh = await viaEdge(t.app).get('/api/me').set('Cookie', cookie);
    const afterFresh = await commandCounts(t.redis);
    clock.advance(MINUTE + 1000);
    const due = await viaEdge(t.app).get('/api/me').set('Cookie', cookie);
    const afterDue = await commandCounts(t.redis);

    const diff = (a: Record<string, number>, b: Record<string, number>) =>
      Object.fromEntries(
        Object.keys(b).flatMap((name) => (b[name] !== (a[name] ?? 0) ? [[name, b[name]! - (a[name] ?? 0)]] : [])),
      );
    expect(fresh.status).toBe(200);
    expect(sessionCookie(fresh)).toBeUndefined();
    expect(diff(before, afterFresh)).toEqual({ get: 1 });
    expect(due.status).toBe(200);
    expect(sessionCookie(due)?.split('.')[0]).toBe(cookie.split('.')[0]);
    expect(diff(afterFresh, afterDue)).toEqual({ get: 1, set: 1 });
  });
});
