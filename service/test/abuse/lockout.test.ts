import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  DEVICE_COOKIE,
  buildTestApp,
  createUser,
  metricValue,
  sessionCookie,
  viaEdge,
  type TestApp,
} from '../helpers/test-app.ts';
import { pool } from '../helpers/served.ts';

const DEVICE = DEVICE_COOKIE;

/** `name=value` of a Set-Cookie the response carries, or undefined. */
function cookieFrom(res: { headers: Record<string, unknown> }, name: string): string | undefined {
  const header = res.headers['set-cookie'] as string[] | undefined;
  return header?.find((c) => c.startsWith(`${name}=`))?.split(';')[0];
}

/**
 * Issue #10.2: one client cannot lock a user out. Only attempts whose password was checked
 * count toward the account limit, and a browser holding the user's device cookie is judged by
 * its own counter only (OWASP device cookies).
 */
describe('lockout resistance', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  const attempt = (username: string, password: string, ip: string, cookie?: string) => {
    const req = viaEdge(t.app).post('/api/login').set('X-Forwarded-For', ip);
    if (cookie) req.set('Cookie', cookie);
    return req.send({ username, password });
  };

  it('when 1,000 failed attempts for alice come from one IP, then alice with her device cookie logs in at the first try from another browser, and an untrusted client there is still throttled', async () => {
    const { username, password } = await createUser(t, undefined);
    const first = await attempt(username, password, '198.51.100.10');
    const device = cookieFrom(first, DEVICE)!;
    expect(first.status).toBe(200);
    expect(device).toMatch(new RegExp(`^${DEVICE}=v2\\.`));

    const statuses: number[] = [];
    await pool(1000, 8, async (i) => {
      statuses.push((await attempt(username, `wrong guess ${i}`, '203.0.113.66')).status);
    });
    const trusted = await attempt(username, password, '192.0.2.44', device);
    const untrustedSameIp = await attempt(username, password, '203.0.113.66');

    expect(statuses.filter((s) => s === 401)).toHaveLength(t.config.throttle.maxConsecutiveFailures);
    expect(statuses.filter((s) => s === 429)).toHaveLength(1000 - t.config.throttle.maxConsecutiveFailures);
    expect(trusted.status).toBe(200);
    expect(sessionCookie(trusted)).toBeDefined();
    expect(untrustedSameIp.status).toBe(429);
  });

  it('when refused attempts pile up, then the account counts only the attempts whose password was checked, so the right password still works from another IP', async () => {
    const { username, password } = await createUser(t);
    // 100 cheap requests from one IP (the old lockout): 10 are checked, 90 refused unchecked.
    for (let i = 0; i < 100; i += 1) await attempt(username, `guess ${i}`, '203.0.113.70');

    const elsewhere = await attempt(username, password, '198.51.100.71');

    expect(elsewhere.status).toBe(200);
  });

  it('when a distributed attack locks the account for anonymous clients, then a browser with the device cookie still logs in, anonymous clients get 429 naming the account limit in metrics and the audit log', async () => {
    const account = await buildTestApp({ LOGIN_MAX_FAILURES_PER_ACCOUNT_PER_HOUR: '20' });
    try {
      const { username, password } = await createUser(account);
      const login = (ip: string, pw: string, cookie?: string) => {
        const req = viaEdge(account.app).post('/api/login').set('X-Forwarded-For', ip);
        if (cookie) req.set('Cookie', cookie);
        return req.send({ username, password: pw });
      };
      const device = cookieFrom(await login('198.51.100.20', password), DEVICE)!;
      for (let i = 0; i < 25; i += 1) await login(`203.0.113.${100 + i}`, `distributed guess ${i}`);

      const anonymous = await login('198.51.100.21', password);
      const trusted = await login('198.51.100.22', password, device);

      expect(anonymous.status).toBe(429);
      expect(anonymous.body).toEqual({ error: 'too_many_attempts', message: expect.any(String) });
      expect(trusted.status).toBe(200);
      expect(
        await metricValue(account.metrics, 'auth_login_throttled_total', { limit: 'account' }),
      ).toBeGreaterThanOrEqual(1);
      expect(account.logs.events('login.throttled').map((e) => e.limit)).toContain('account');
    } finally {
      await account.close();
    }
  });

  it('when a trusted device keeps failing, then it is locked by its own counter (limit device), not the account', async () => {
    const { username, password } = await createUser(t);
    const device = cookieFrom(await attempt(username, password, '198.51.100.30'), DEVICE)!;
    for (let i = 0; i < t.config.throttle.maxConsecutiveFailures; i += 1) {
      expect((await attempt(username, `device guess ${i}`, '198.51.100.30', device)).status).toBe(401);
    }

    const lockedDevice = await attempt(username, password, '198.51.100.30', device);
    const otherClient = await attempt(username, password, '198.51.100.31');

    expect(lockedDevice.status).toBe(429);
    expect(t.logs.events('login.throttled').at(-1)).toMatchObject({ limit: 'device', trustedDevice: true });
    expect(otherClient.status).toBe(200);
  });
});
