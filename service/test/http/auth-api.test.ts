import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import {
  SESSION_COOKIE,
  buildTestApp,
  createUser,
  login,
  metricValue,
  sessionCookie,
  uniqueUsername,
  viaEdge,
  type TestApp,
} from '../helpers/test-app.ts';

describe('JSON auth API', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  describe('POST /api/login', () => {
    it('when the credentials are right, then 200 with the user and a __Host-sid cookie that is HttpOnly, Secure, SameSite=Lax, Path=/ and has no Domain', async () => {
      const { user, username, password } = await createUser(t);

      const res = await viaEdge(t.app).post('/api/login').send({ username, password });

      expect(res.status).toBe(200);
      expect(res.body).toEqual({ user: { id: user.id, username } });
      const setCookie = (res.headers['set-cookie'] as unknown as string[]).find((c) => c.startsWith('__Host-sid='))!;
      expect(setCookie).toMatch(/; Path=\/(;|$)/);
      expect(setCookie).toMatch(/; HttpOnly/);
      expect(setCookie).toMatch(/; Secure/);
      expect(setCookie).toMatch(/; SameSite=Lax/);
      expect(setCookie).not.toMatch(/Domain=/i);
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('when the username differs only in case, then it still logs in (usernames are case-insensitive)', async () => {
      const { username, password } = await createUser(t, uniqueUsername('Mixed'));

      const res = await viaEdge(t.app).post('/api/login').send({ username: username.toUpperCase(), password });

      expect(res.status).toBe(200);
      expect(res.body.user.username).toBe(username);
    });

    it('when the password is wrong, then 401 invalid_credentials and no cookie', async () => {
      const { username } = await createUser(t);

      const res = await viaEdge(t.app).post('/api/login').send({ username, password: 'not the password at all' });

      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_credentials', message: expect.any(String) });
      expect(res.headers['set-cookie']).toBeUndefined();
    });

    it('when a session cookie already exists, then login regenerates the session id and the old cookie stops working (fixation)', async () => {
      const { username, password } = await createUser(t);
      const before = await login(t, username, password);

      const res = await viaEdge(t.app).post('/api/login').set('Cookie', before).send({ username, password });
      const after = sessionCookie(res)!;

      expect(res.status).toBe(200);
      expect(after.split('.')[0]).not.toBe(before.split('.')[0]);
      expect((await viaEdge(t.app).get('/api/me').set('Cookie', before)).status).toBe(401);
      expect((await viaEdge(t.app).get('/api/me').set('Cookie', after)).status).toBe(200);
    });

    it('when fields are missing or not strings, then 400 invalid_request', async () => {
      for (const body of [
        {},
        { username: 'a' },
        { username: 1, password: 'x' },
        { username: 'a', password: ['x'] },
        [],
        'text',
      ]) {
        const res = await viaEdge(t.app)
          .post('/api/login')
          .set('Content-Type', 'application/json')
          .send(JSON.stringify(body));
        expect({ body, status: res.status, error: res.body.error }).toEqual({
          body,
          status: 400,
          error: 'invalid_request',
        });
      }
    });

    it('when the body is not JSON, then 415 unsupported_media_type', async () => {
      const res = await viaEdge(t.app).post('/api/login').type('form').send('username=a&password=b');

      expect(res.status).toBe(415);
      expect(res.body.error).toBe('unsupported_media_type');
    });

    it('when it succeeds, then it counts in auth_login_attempts_total and auth_sessions_created_total', async () => {
      const { username, password } = await createUser(t);
      const successes = await metricValue(t.metrics, 'auth_login_attempts_total', { result: 'success' });
      const created = await metricValue(t.metrics, 'auth_sessions_created_total');

      await login(t, username, password);

      expect(await metricValue(t.metrics, 'auth_login_attempts_total', { result: 'success' })).toBe(successes + 1);
      expect(await metricValue(t.metrics, 'auth_sessions_created_total')).toBe(created + 1);
    });
  });

  describe('GET /api/me', () => {
    it('when signed in, then 200 with the user and the session times', async () => {
      const { user, username, password } = await createUser(t);
      const cookie = await login(t, username, password);

      const res = await viaEdge(t.app).get('/api/me').set('Cookie', cookie);

      expect(res.status).toBe(200);
      expect(res.body.user).toEqual({ id: user.id, username, groups: [] });
      const { createdAt, expiresAt, absoluteExpiresAt } = res.body.session;
      expect(Date.parse(expiresAt) - Date.parse(createdAt)).toBe(t.config.session.idleTimeoutMs);
      expect(Date.parse(absoluteExpiresAt) - Date.parse(createdAt)).toBe(t.config.session.absoluteTimeoutMs);
    });

    it('when there is no cookie, then 401 unauthenticated', async () => {
      const res = await viaEdge(t.app).get('/api/me');

      expect(res.status).toBe(401);
      expect(res.body.error).toBe('unauthenticated');
    });

    it('when requested over plain HTTP without the edge, then no Secure cookie is issued at login', async () => {
      const { username, password } = await createUser(t);

      const res = await request(t.app).post('/api/login').send({ username, password });

      expect(res.status).toBe(200);
      expect(res.headers['set-cookie']).toBeUndefined();
    });
  });

  describe('POST /api/logout', () => {
    it('when signed in, then 204, the session is deleted in Redis, the cookie is cleared and replaying it gives 401', async () => {
      const { username, password } = await createUser(t);
      const cookie = await login(t, username, password);
      const keysBefore = await t.redis.keys(`${t.prefix}sess:*`);

      const res = await viaEdge(t.app).post('/api/logout').set('Cookie', cookie);

      expect(res.status).toBe(204);
      const cleared = (res.headers['set-cookie'] as unknown as string[]).find((c) =>
        c.startsWith(`${SESSION_COOKIE}=`),
      )!;
      expect(cleared).toMatch(/Expires=Thu, 01 Jan 1970/);
      expect(await t.redis.keys(`${t.prefix}sess:*`)).toHaveLength(keysBefore.length - 1);
      expect((await viaEdge(t.app).get('/api/me').set('Cookie', cookie)).status).toBe(401);
      expect(await metricValue(t.metrics, 'auth_sessions_revoked_total', { reason: 'logout' })).toBeGreaterThanOrEqual(
        1,
      );
    });

    it('when not signed in, then still 204 (logout is idempotent)', async () => {
      expect((await viaEdge(t.app).post('/api/logout')).status).toBe(204);
    });
  });
});
