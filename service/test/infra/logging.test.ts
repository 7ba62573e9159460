import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildTestApp, createUser, login, viaEdge, type TestApp, sessionIdOf } from '../helpers/test-app.ts';

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
    await viaEdge(t.app).post('/api/login').set('X-Forwarded-For', '198.51.100.77').send({ username, password: 'definitely wrong' });
    const cookie = await login(t, username, password, { 'X-Forwarded-For': '198.51.100.77' });
    await viaEdge(t.app).post('/api/logout').set('Cookie', cookie).set('Authorization', 'Bearer some-token').set('X-Forwarded-For', '198.51.100.77');
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
    t.logger.info({ password: 'p1', body: { password: 'p2' }, user: { currentPassword: 'p3', newPassword: 'p4' } }, 'redaction probe');

    const line = t.logs.raw.find((l) => l.includes('redaction probe'))!;
    for (const secret of ['p1', 'p2', 'p3', 'p4']) expect(line).not.toContain(`"${secret}"`);
    expect(line).toContain('[redacted]');
  });
});
