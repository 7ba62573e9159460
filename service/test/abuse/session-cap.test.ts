import { randomBytes } from 'node:crypto';
import type { SessionData } from 'express-session';
import { describe, expect, it } from '@jest/globals';
import { type RedisServer } from '../../../testkit/redis-server.ts';
import {
  buildTestApp,
  onOwnRedis,
  createUser,
  login,
  metricValue,
  viaEdge,
  type TestApp,
} from '../helpers/test-app.ts';

/** Every command Redis ran so far, Lua-internal ones included (INFO commandstats), but the
 * INFO reads themselves and the client's keep-alive PINGs. */
async function commandsRun(t: TestApp): Promise<number> {
  const stats = await t.redis.info('commandstats');
  return [...stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)]
    .filter((m) => m[1] !== 'info' && m[1] !== 'ping')
    .reduce((sum, m) => sum + Number(m[2]), 0);
}

/**
 * Issue #10.3: sessions per user are bounded (MAX_SESSIONS_PER_USER, default 20) and a login's
 * Redis work does not grow with the user's history.
 */
describe('sessions per user', () => {
  let redis: RedisServer;
  let t: TestApp;
  // Its own Redis, so the command counts are this test's alone.
  onOwnRedis((app, server) => ([t, redis] = [app, server]));

  it('when one user has 5,000 logins, then the index holds 20, /api/sessions lists 20 in a bounded body, the oldest end as session_limit, and every login costs the same Redis commands', async () => {
    const { user, username, password } = await createUser(t);
    const cap = t.config.session.maxSessionsPerUser;
    expect(cap).toBe(20);
    // 4,979 sessions through the session store's own create step (what every login ends in:
    // the same script), then 21 real logins through POST /api/login. 5,000 argon2 verifies
    // would take minutes; the index, its pruning and the cap live in that one step.
    const now = t.clock.now();
    for (let i = 0; i < 4_979; i += 1) {
      const sess = {
        userId: user.id,
        username,
        createdAt: now,
        lastSeenAt: now,
        ip: '198.51.100.1',
        userAgent: 'bulk',
        credentialVersion: user.credentialVersion,
        signedWith: 'bulk',
      } as SessionData;
      await t.domain.sessionStore.create(randomBytes(32).toString('base64url'), sess, cap);
    }
    expect(await t.redis.zCard(t.domain.keys.userSessions(user.id))).toBe(cap);

    // The first login also loads the throttle's scripts into Redis (EVALSHA, then EVAL): a
    // one-time cost per Redis, not per login.
    let cookie = await login(t, username, password);
    const costs: number[] = [];
    for (let i = 0; i < 20; i += 1) {
      const before = await commandsRun(t);
      cookie = await login(t, username, password);
      costs.push((await commandsRun(t)) - before);
    }
    const list = await viaEdge(t.app).get('/api/sessions').set('Cookie', cookie);

    expect(await t.redis.zCard(t.domain.keys.userSessions(user.id))).toBe(cap);
    expect(list.body.sessions).toHaveLength(cap);
    expect(list.text.length).toBeLessThan(cap * 400);
    expect(costs).toEqual(Array(20).fill(costs[0]));
    expect(costs[0]).toBeLessThan(4 * cap);
    expect(await metricValue(t.metrics, 'auth_sessions_revoked_total', { reason: 'session_limit' })).toBe(21);
    expect(t.logs.events('session.revoked').filter((e) => e.reason === 'session_limit')).toHaveLength(21);
  }, 120_000);

  it('when a login goes past the cap, then exactly the oldest session ends and the newest ones keep working', async () => {
    const capped = await buildTestApp({ REDIS_URL: redis.url, MAX_SESSIONS_PER_USER: '3' });
    try {
      const { username, password } = await createUser(capped);
      const cookies: string[] = [];
      for (let i = 0; i < 4; i += 1) {
        cookies.push(await login(capped, username, password));
        capped.clock.advance(1000);
      }
      const statuses = await Promise.all(
        cookies.map(async (c) => (await viaEdge(capped.app).get('/api/me').set('Cookie', c)).status),
      );

      expect(statuses).toEqual([401, 200, 200, 200]);
    } finally {
      await capped.close();
    }
  });
});
