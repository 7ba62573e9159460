import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import request from 'supertest';
import { startRedisServer } from '../../../testkit/redis-server.ts';
import { serve } from '../helpers/served.ts';
import {
  buildTestApp,
  createUser,
  GOOD_PASSWORD,
  login,
  viaEdge,
  type TestApp,
  sessionIdOf,
  uniqueUsername,
} from '../helpers/test-app.ts';

/** The request line (pino-http) of the request with this id, once written. */
async function requestLine(t: TestApp, id: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 100; i += 1) {
    const line = t.logs.lines.find((l) => l.requestId === id && l.res !== undefined);
    if (line) return line;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`no request line for ${id}`);
}

describe('structured logs', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ SIGNUP_ENABLED: 'true' });
  });
  afterAll(() => t.close());

  it('when a request carries X-Request-Id, then the response echoes it and the request log line carries it', async () => {
    const res = await viaEdge(t.app).get('/api/me').set('X-Request-Id', 'edge-id-0123456789abcdef');

    expect(res.headers['x-request-id']).toBe('edge-id-0123456789abcdef');
    const line = t.logs.lines.find((l) => (l.req as { id?: string } | undefined)?.id === 'edge-id-0123456789abcdef');
    expect(line).toBeDefined();
  });

  it('when no request id (or a malformed one) arrives, then one is generated and echoed', async () => {
    const none = await viaEdge(t.app).get('/api/me');
    const hostile = await viaEdge(t.app).get('/api/me').set('X-Request-Id', 'bad id with spaces\tand tabs');

    expect(none.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('when users log in, fail, log out and register, then each event has its own line with userId and ip, and no password, cookie or session id appears anywhere', async () => {
    const { user, username, password } = await createUser(t);
    await viaEdge(t.app)
      .post('/api/login')
      .set('X-Forwarded-For', '198.51.100.77')
      .send({ username, password: 'definitely wrong' });
    const cookie = await login(t, username, password, { 'X-Forwarded-For': '198.51.100.77' });
    await viaEdge(t.app)
      .post('/api/logout')
      .set('Cookie', cookie)
      .set('Authorization', 'Bearer some-token')
      .set('X-Forwarded-For', '198.51.100.77');
    await viaEdge(t.app)
      .post('/api/register')
      .send({ username: `${username}-2`, password: 'registration passphrase' });

    for (const event of ['login.failure', 'login.success', 'logout']) {
      const line = t.logs.events(event).find((l) => l.userId === user.id);
      expect({ event, userId: line?.userId, ip: line?.ip }).toEqual({ event, userId: user.id, ip: '198.51.100.77' });
    }
    expect(t.logs.events('user.created').length).toBeGreaterThanOrEqual(2);
    const sid = sessionIdOf(cookie);
    const all = t.logs.raw.join('\n');
    expect(all).not.toContain(password);
    expect(all).not.toContain('definitely wrong');
    expect(all).not.toContain('registration passphrase');
    expect(all).not.toContain(sid);
    expect(all).not.toContain('some-token');
  });

  it('when an object with password fields is logged, then they are redacted', () => {
    t.logger.info(
      { password: 'p1', body: { password: 'p2' }, user: { currentPassword: 'p3', newPassword: 'p4' } },
      'redaction probe',
    );

    const line = t.logs.raw.find((l) => l.includes('redaction probe'))!;
    for (const secret of ['p1', 'p2', 'p3', 'p4']) expect(line).not.toContain(`"${secret}"`);
    expect(line).toContain('[redacted]');
  });

  it('when a request completes, then pino-http writes one info line with the request id, method, url, user agent, status and time, and nothing else of the request', async () => {
    await viaEdge(t.app)
      .get('/api/me?probe=1')
      .set('X-Request-Id', 'line-shape-0001')
      .set('User-Agent', 'shape-test/1.0')
      .set('Cookie', 'x=1');

    const line = await requestLine(t, 'line-shape-0001');
    expect(line).toEqual({
      level: 'info',
      time: expect.any(String),
      service: 'authstack',
      requestId: 'line-shape-0001',
      req: { id: 'line-shape-0001', method: 'GET', url: '/api/me?probe=1', userAgent: 'shape-test/1.0' },
      res: { statusCode: 401 },
      responseTime: expect.any(Number),
      msg: 'request completed',
    });
  });

  it('when a route logs an audit event, then its line carries the request id of the request', async () => {
    const { user, username, password } = await createUser(t);

    await viaEdge(t.app).post('/api/login').set('X-Request-Id', 'audit-id-0001').send({ username, password });

    const event = t.logs.events('login.success').find((l) => l.userId === user.id);
    expect(event?.requestId).toBe('audit-id-0001');
  });

  it('when probes and scrapes are served, then no request line is written for them', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics'])
      await request(t.app)
        .get(path)
        .set('X-Request-Id', `probe-${path.slice(1)}`);
    await viaEdge(t.app).get('/api/me').set('X-Request-Id', 'after-the-probes');
    await requestLine(t, 'after-the-probes');

    expect(t.logs.lines.filter((l) => String(l.requestId).startsWith('probe-'))).toEqual([]);
  });

  it('when the client aborts a request before the answer, then the request is still logged, as aborted', async () => {
    const server = await serve(t.app);
    try {
      const body = JSON.stringify({ username: uniqueUsername('aborted'), password: GOOD_PASSWORD });
      const url = new URL('/api/login', server.url);
      const req = httpRequest(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'x-request-id': 'aborted-0001',
        },
      });
      req.on('error', () => undefined);
      // The login is still hashing (argon2, tens of ms) when the client goes away.
      req.end(body, () => setTimeout(() => req.destroy(), 5));

      const line = await requestLine(t, 'aborted-0001');
      expect({ level: line.level, msg: line.msg }).toEqual({ level: 'info', msg: 'request aborted by the client' });
    } finally {
      await server.close();
    }
  });
});

describe('the request line of a failed request', () => {
  it('when a request ends in a 5xx, then its line is at error level, with the same shape', async () => {
    const redis = await startRedisServer();
    const t = await buildTestApp({ REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '500' });
    try {
      const { username, password } = await createUser(t);
      const cookie = await login(t, username, password);
      await redis.stop();

      const res = await viaEdge(t.app).get('/api/me').set('Cookie', cookie).set('X-Request-Id', 'five-hundred-0001');

      expect(res.status).toBe(503);
      const line = await requestLine(t, 'five-hundred-0001');
      expect(line).toMatchObject({
        level: 'error',
        msg: 'request errored',
        requestId: 'five-hundred-0001',
        res: { statusCode: 503 },
      });
      expect(Object.keys(line).sort()).toEqual([
        'level',
        'msg',
        'req',
        'requestId',
        'res',
        'responseTime',
        'service',
        'time',
      ]);
    } finally {
      await t.close();
      await redis.stop();
    }
  });
});
