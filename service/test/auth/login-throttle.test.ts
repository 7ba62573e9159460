import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildTestApp, createUser, metricValue, uniqueUsername, viaEdge, type TestApp } from '../helpers/test-app.ts';

const attempt = (t: TestApp, username: string, password: string, xff?: string) => {
  const req = viaEdge(t.app).post('/api/login');
  if (xff) req.set('X-Forwarded-For', xff);
  return req.send({ username, password });
};

describe('brute-force throttling', () => {
  describe('per (username, IP): consecutive failures', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await buildTestApp({ LOGIN_MAX_CONSECUTIVE_FAILURES: '10' });
    });
    afterAll(() => t.close());

    it('when 10 attempts in a row fail, then the 11th gets 429 too_many_attempts with Retry-After, even with the right password', async () => {
      const { username, password } = await createUser(t);
      for (let i = 0; i < 10; i += 1)
        expect((await attempt(t, username, 'wrong password!', '198.51.100.1')).status).toBe(401);

      const res = await attempt(t, username, password, '198.51.100.1');

      expect(res.status).toBe(429);
      expect(res.body).toEqual({ error: 'too_many_attempts', message: expect.any(String) });
      expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      expect(res.headers['retry-after']).toMatch(/^\d+$/);
      expect(await metricValue(t.metrics, 'auth_login_attempts_total', { result: 'throttled' })).toBeGreaterThanOrEqual(
        1,
      );
      expect(t.logs.events('login.throttled').length).toBeGreaterThanOrEqual(1);
    });

    it('when a login succeeds, then the consecutive-failure count starts again', async () => {
      const { username, password } = await createUser(t);
      for (let i = 0; i < 9; i += 1) await attempt(t, username, 'wrong password!', '198.51.100.2');
      expect((await attempt(t, username, password, '198.51.100.2')).status).toBe(200);

      for (let i = 0; i < 9; i += 1)
        expect((await attempt(t, username, 'wrong password!', '198.51.100.2')).status).toBe(401);
      expect((await attempt(t, username, password, '198.51.100.2')).status).toBe(200);
    });

    it('when one IP is locked out of an account, then the same account still logs in from another IP', async () => {
      const { username, password } = await createUser(t);
      for (let i = 0; i < 10; i += 1) await attempt(t, username, 'wrong password!', '198.51.100.3');

      expect((await attempt(t, username, password, '198.51.100.3')).status).toBe(429);
      expect((await attempt(t, username, password, '198.51.100.4')).status).toBe(200);
    });

    it('when 30 wrong guesses for one account arrive in parallel, then at most 10 are checked and the rest get 429', async () => {
      const { username } = await createUser(t);

      const responses = await Promise.all(
        Array.from({ length: 30 }, (_, i) => attempt(t, username, `parallel guess ${i}`, '198.51.100.9')),
      );

      const statuses = responses.map((r) => r.status);
      expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
      expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(20);
      expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    });

    it('when IPv6 clients rotate addresses inside one /64, then they share one bucket', async () => {
      const { username, password } = await createUser(t);
      for (let i = 0; i < 10; i += 1)
        await attempt(t, username, 'wrong password!', `2001:db8:42:7::${(i + 1).toString(16)}`);

      expect((await attempt(t, username, password, '2001:db8:42:7:dead:beef::1')).status).toBe(429);
      expect((await attempt(t, username, password, '2001:db8:42:8::1')).status).toBe(200);
    });

    it('when the client adds its own X-Forwarded-For entries, then the bucket stays that of the address the proxy saw', async () => {
      const { username, password } = await createUser(t);
      // nginx appends/overwrites the real address last; with trust proxy = 1 only that entry counts.
      for (let i = 0; i < 10; i += 1) await attempt(t, username, 'wrong password!', `10.9.9.${i}, 198.51.100.5`);

      const res = await attempt(t, username, password, '1.2.3.4, 198.51.100.5');

      expect(res.status).toBe(429);
    });
  });

  describe('per IP and per account, per hour', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await buildTestApp({
        LOGIN_MAX_FAILURES_PER_IP_PER_HOUR: '5',
        LOGIN_MAX_FAILURES_PER_ACCOUNT_PER_HOUR: '5',
        LOGIN_MAX_CONSECUTIVE_FAILURES: '100',
      });
    });
    afterAll(() => t.close());

    it('when one IP fails 5 times across different usernames, then that IP is throttled for every username', async () => {
      const { username, password } = await createUser(t);
      for (let i = 0; i < 5; i += 1)
        expect((await attempt(t, uniqueUsername('spray'), 'wrong password!', '203.0.113.10')).status).toBe(401);

      expect((await attempt(t, username, password, '203.0.113.10')).status).toBe(429);
      expect((await attempt(t, username, password, '203.0.113.11')).status).toBe(200);
    });

    it('when an account fails 5 times from different IPs, then it is throttled from any IP', async () => {
      const { username, password } = await createUser(t);
      for (let i = 0; i < 5; i += 1)
        expect((await attempt(t, username, 'wrong password!', `203.0.113.${20 + i}`)).status).toBe(401);

      expect((await attempt(t, username, password, '203.0.113.99')).status).toBe(429);
    });

    it('when the account does not exist, then throttling looks exactly the same as for one that does (no enumeration)', async () => {
      const { username } = await createUser(t);
      const ghost = uniqueUsername('ghost');
      const run = async (name: string, ipBase: number) => {
        const out: Array<[number, unknown]> = [];
        for (let i = 0; i < 6; i += 1) {
          const res = await attempt(t, name, 'wrong password!', `192.0.2.${ipBase + i}`);
          out.push([res.status, res.body]);
        }
        return out;
      };

      const existing = await run(username, 100);
      const unknown = await run(ghost, 150);

      expect(unknown).toEqual(existing);
      expect(existing.map(([s]) => s)).toEqual([401, 401, 401, 401, 401, 429]);
    });
  });
});

describe('no user enumeration', () => {
  it('when the user does not exist vs the password is wrong, then the status and body are identical', async () => {
    const t = await buildTestApp();
    try {
      const { username } = await createUser(t);

      const wrongPassword = await attempt(t, username, 'wrong password!');
      const unknownUser = await attempt(t, uniqueUsername('nobody'), 'wrong password!');

      expect(unknownUser.status).toBe(wrongPassword.status);
      expect(unknownUser.body).toEqual(wrongPassword.body);
      expect(Object.keys(unknownUser.headers).sort()).toEqual(Object.keys(wrongPassword.headers).sort());
      // The decoy verify really ran argon2 (timing is compared by `make bench`, not here).
      const verifies = await t.metrics.registry.getSingleMetric('password_hash_duration_seconds')!.get();
      const count = verifies.values.find(
        (v) =>
          (v as { metricName?: string }).metricName === 'password_hash_duration_seconds_count' &&
          v.labels.operation === 'verify',
      );
      expect(count?.value).toBe(2);
    } finally {
      await t.close();
    }
  });
});

describe('hashing under load', () => {
  it('when more logins arrive than the hash concurrency plus queue allow, then the excess gets 503 busy with Retry-After at once', async () => {
    const t = await buildTestApp({
      HASH_CONCURRENCY: '1',
      HASH_QUEUE_LIMIT: '1',
      ARGON2_MEMORY_KIB: '65536',
      ARGON2_TIME_COST: '4',
      LOGIN_MAX_FAILURES_PER_IP_PER_HOUR: '1000',
    });
    try {
      const { username } = await createUser(t);

      const responses = await Promise.all(
        Array.from({ length: 12 }, (_, i) => attempt(t, username, `wrong password ${i}`, `192.0.2.${i + 1}`)),
      );

      const statuses = responses.map((r) => r.status);
      expect(statuses.every((s) => s === 401 || s === 503)).toBe(true);
      const busy = responses.filter((r) => r.status === 503);
      expect(busy.length).toBeGreaterThan(0);
      expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(2);
      for (const res of busy) {
        expect(res.body.error).toBe('busy');
        expect(res.headers['retry-after']).toBe('1');
      }
      expect(await metricValue(t.metrics, 'auth_login_attempts_total', { result: 'busy' })).toBe(busy.length);
    } finally {
      await t.close();
    }
  });
});
