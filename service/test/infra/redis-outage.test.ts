import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startRedisServer, type RedisServer } from '../../../testkit/redis-server.ts';
import { buildTestApp, createUser, login, viaEdge, type TestApp } from '../helpers/test-app.ts';

/** Polls until `check` passes or the deadline is reached. */
async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('when Redis goes away and comes back', () => {
  let redis: RedisServer;
  let t: TestApp;
  let cookie: string;
  let credentials: { username: string; password: string };

  beforeAll(async () => {
    // Its own redis-server (persistent, like production), so stopping it disturbs no other test.
    redis = await startRedisServer({ persistent: true });
    t = await buildTestApp({ REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '1000' });
    credentials = await createUser(t);
    cookie = await login(t, credentials.username, credentials.password);
    await redis.stop();
  });
  afterAll(async () => {
    await t.close();
    await redis.stop();
  });

  it('then a request that needs the session gets 503 unavailable within 2 s, not a hang', async () => {
    const started = Date.now();
    const res = await viaEdge(t.app).get('/api/me').set('Cookie', cookie);

    expect(res.status).toBe(503);
    expect(res.body).toEqual({ error: 'unavailable', message: expect.any(String) });
    expect(res.headers['retry-after']).toBeDefined();
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('then a login gets 503 unavailable, not 401 or 500', async () => {
    const res = await viaEdge(t.app).post('/api/login').send(credentials);

    expect(res.status).toBe(503);
    expect(res.body.error).toBe('unavailable');
  });

  it('then /readyz is 503 and /healthz stays 200', async () => {
    expect((await request(t.app).get('/readyz')).status).toBe(503);
    expect((await request(t.app).get('/healthz')).status).toBe(200);
  });

  it('then the login page still renders, even for a browser that presents its session cookie', async () => {
    expect((await viaEdge(t.app).get('/login')).status).toBe(200);
    const withCookie = await viaEdge(t.app).get('/login').set('Cookie', cookie);
    expect(withCookie.status).toBe(200);
    expect(withCookie.headers['content-type']).toMatch(/^text\/html/);
  });

  it('then the login form answers with an HTML 503 page, not JSON', async () => {
    const res = await viaEdge(t.app).post('/login').type('form').send(credentials);

    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('when Redis is back, then the service recovers by itself and the existing session and user survive', async () => {
    await redis.start();

    await eventually(async () => (await request(t.app).get('/readyz')).status === 200);

    const me = await viaEdge(t.app).get('/api/me').set('Cookie', cookie);
    expect(me.status).toBe(200);
    expect(me.body.user.username).toBe(credentials.username);
    await login(t, credentials.username, credentials.password);
  });
});

describe('when Redis accepts connections but stops answering (frozen)', () => {
  let redis: RedisServer;
  let t: TestApp;
  let cookie: string;

  beforeAll(async () => {
    redis = await startRedisServer({ persistent: true });
    t = await buildTestApp({ REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '800' });
    const { username, password } = await createUser(t);
    cookie = await login(t, username, password);
  });
  afterAll(async () => {
    redis.process.kill('SIGCONT');
    await t.close();
    await redis.stop();
  });

  it('then requests get 503 unavailable within 2 s instead of hanging, and everything recovers once it answers again', async () => {
    redis.process.kill('SIGSTOP');
    try {
      const started = Date.now();
      const [me, loginAttempt] = await Promise.all([
        viaEdge(t.app).get('/api/me').set('Cookie', cookie),
        viaEdge(t.app).post('/api/login').send({ username: 'whoever', password: 'whatever it is' }),
      ]);

      expect([me.status, me.body.error]).toEqual([503, 'unavailable']);
      expect([loginAttempt.status, loginAttempt.body.error]).toEqual([503, 'unavailable']);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(t.logs.events('request.error')).toHaveLength(0);
    } finally {
      redis.process.kill('SIGCONT');
    }

    await eventually(async () => (await viaEdge(t.app).get('/api/me').set('Cookie', cookie)).status === 200, 15_000);
  }, 30_000);
});
