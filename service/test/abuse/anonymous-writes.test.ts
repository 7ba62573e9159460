import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { shippedMaxmemoryPolicy } from '../../../testkit/redis-server.ts';
import { onOwnRedis, createUser, login, type TestApp } from '../helpers/test-app.ts';
import { commandCounts, infoNumber, pool, serve } from '../helpers/served.ts';

/**
 * Issue #10.1: anonymous requests cannot fill Redis. A flood of failed logins with distinct,
 * maximal-length usernames (and names whose NFKC form would expand 18-fold) from one client
 * must grow Redis by less than 5 MB, evict nothing and leave a signed-in user signed in. The
 * Redis here runs the shipped maxmemory-policy with a small maxmemory, so an eviction would
 * happen if the writes were not bounded.
 */
describe('anonymous requests and Redis memory', () => {
  let t: TestApp;
  let server: Awaited<ReturnType<typeof serve>>;

  onOwnRedis((app) => (t = app), { server: { maxmemory: '64mb' } });
  beforeAll(async () => {
    server = await serve(t.app);
  });
  afterAll(async () => {
    await server.close();
  });

  const failedLogin = (username: string) =>
    fetch(`${server.url}/api/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' },
      body: JSON.stringify({ username, password: 'wrong password, of course' }),
    }).then(async (res) => {
      await res.arrayBuffer();
      return res.status;
    });

  it('when 20,000 failed logins with distinct maximal usernames come from one client, then Redis grows by less than 5 MB, evicts nothing, and a signed-in user stays signed in', async () => {
    expect(shippedMaxmemoryPolicy()).toBe('noeviction');
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);
    const before = await t.redis.info();
    const statuses: Record<number, number> = {};

    await pool(20_000, 32, async (i) => {
      // 64 code points: the longest username there can be; every 7th would expand past it under NFKC.
      const name = i % 7 === 0 ? `\ufdfa${'\ufdfa'.repeat(3)}${i}` : `${String(i).padStart(6, '0')}${'x'.repeat(58)}`;
      const status = await failedLogin(name);
      statuses[status] = (statuses[status] ?? 0) + 1;
    });
    const after = await t.redis.info();
    const me = await fetch(`${server.url}/api/me`, { headers: { cookie, 'x-forwarded-proto': 'https' } });

    const grownBytes = infoNumber(after, 'used_memory') - infoNumber(before, 'used_memory');
    expect(grownBytes).toBeLessThan(5 * 1024 * 1024);
    expect(infoNumber(after, 'evicted_keys')).toBe(0);
    expect(me.status).toBe(200);
    // Only the attempts a throttle let through were counted: the rest wrote nothing.
    expect(Object.keys(statuses).sort()).toEqual(['400', '401', '429']);
    expect(statuses[401]).toBeLessThanOrEqual(t.config.throttle.maxFailuresPerIpPerHour);
    expect(await t.redis.dbSize()).toBeLessThan(500);
  }, 240_000);

  it('when a throttle refuses an attempt, then Redis holds exactly what it held before', async () => {
    // The client is locked out by the per-IP limit after the flood above.
    const snapshot = async () => {
      const keys = (await t.redis.keys('*')).sort();
      const values = await Promise.all(
        keys.map(
          async (key) =>
            `${key}=${(await t.redis.type(key)) === 'string' ? await t.redis.get(key) : await t.redis.type(key)}`,
        ),
      );
      return values;
    };
    const before = await snapshot();

    const statuses = await Promise.all(
      Array.from({ length: 50 }, (_, i) => failedLogin(`refused-${i}-${'y'.repeat(40)}`)),
    );
    const after = await snapshot();

    expect(new Set(statuses)).toEqual(new Set([429]));
    expect(after).toEqual(before);
  });

  it('when a username is longer than 64 characters before or after normalization, then 400 and nothing is looked up or counted', async () => {
    const before = await commandCounts(t.redis);

    const tooLong = await failedLogin('a'.repeat(65));
    const expands = await failedLogin('\ufdfa'.repeat(4));
    const after = await commandCounts(t.redis);

    expect([tooLong, expands]).toEqual([400, 400]);
    // No command of the service's ran in between.
    expect(after).toEqual(before);
  });
});
