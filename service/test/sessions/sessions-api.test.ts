import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { SessionData } from 'express-session';
import {
  SESSION_COOKIE,
  TestClock,
  buildTestApp,
  createUser,
  login,
  viaEdge,
  type TestApp,
  sessionIdOf,
  sessionKey,
} from '../helpers/test-app.ts';

describe('session management API', () => {
  let t: TestApp;
  const clock = new TestClock();
  beforeAll(async () => {
    t = await buildTestApp({ SESSION_IDLE_TIMEOUT: '30m', SESSION_ABSOLUTE_TIMEOUT: '12h' }, { clock });
  });
  afterAll(() => t.close());

  it('when a user has sessions on two devices, then GET /api/sessions lists both with opaque ids, IPs, user agents and marks the current one', async () => {
    const { username, password } = await createUser(t);
    const laptop = await login(t, username, password, {
      'User-Agent': 'laptop-browser',
      'X-Forwarded-For': '198.51.100.7',
    });
    const phone = await login(t, username, password, {
      'User-Agent': 'phone-browser',
      'X-Forwarded-For': '203.0.113.9',
    });

    const res = await viaEdge(t.app).get('/api/sessions').set('Cookie', laptop).set('User-Agent', 'laptop-browser');

    expect(res.status).toBe(200);
    const sessions = res.body.sessions as Array<Record<string, unknown>>;
    expect(sessions).toHaveLength(2);
    expect(sessions.map((s) => [s.userAgent, s.ip, s.current]).sort()).toEqual([
      ['laptop-browser', '198.51.100.7', true],
      ['phone-browser', '203.0.113.9', false],
    ]);
    for (const s of sessions) {
      expect(Object.keys(s).sort()).toEqual(['createdAt', 'current', 'id', 'ip', 'lastSeenAt', 'userAgent']);
      // The handle is not the session token, nor any part of either cookie.
      for (const cookie of [laptop, phone]) expect(decodeURIComponent(cookie)).not.toContain(s.id);
    }
  });

  it('when DELETE /api/sessions/:id names one of my other sessions, then 204 and that session stops working', async () => {
    const { username, password } = await createUser(t);
    const mine = await login(t, username, password);
    const other = await login(t, username, password);
    const list = (await viaEdge(t.app).get('/api/sessions').set('Cookie', mine)).body.sessions as Array<{
      id: string;
      current: boolean;
    }>;
    const otherId = list.find((s) => !s.current)!.id;

    const res = await viaEdge(t.app).delete(`/api/sessions/${otherId}`).set('Cookie', mine);

    expect(res.status).toBe(204);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', other)).status).toBe(401);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', mine)).status).toBe(200);
  });

  it("when DELETE /api/sessions/:id names another user's session, then 404 and that session survives", async () => {
    const alice = await createUser(t);
    const bob = await createUser(t);
    const aliceCookie = await login(t, alice.username, alice.password);
    const bobCookie = await login(t, bob.username, bob.password);
    const bobSessionId = (await viaEdge(t.app).get('/api/sessions').set('Cookie', bobCookie)).body.sessions[0]
      .id as string;

    const res = await viaEdge(t.app).delete(`/api/sessions/${bobSessionId}`).set('Cookie', aliceCookie);

    expect(res.status).toBe(404);
    expect(res.body.error).toBe('not_found');
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', bobCookie)).status).toBe(200);
  });

  it('when DELETE /api/sessions is called, then every other session of mine ends and mine survives', async () => {
    const { username, password } = await createUser(t);
    const mine = await login(t, username, password);
    const others = [await login(t, username, password), await login(t, username, password)];

    const res = await viaEdge(t.app).delete('/api/sessions').set('Cookie', mine);

    expect(res.status).toBe(204);
    for (const cookie of others) expect((await viaEdge(t.app).get('/api/me').set('Cookie', cookie)).status).toBe(401);
    const remaining = (await viaEdge(t.app).get('/api/sessions').set('Cookie', mine)).body.sessions;
    expect(remaining).toHaveLength(1);
    expect(remaining[0].current).toBe(true);
  });

  it('when sessions expire or vanish under the index, then the next login prunes them and the index expires with its last session', async () => {
    const { user, username, password } = await createUser(t);
    const index = t.domain.keys.userSessions(user.id);
    const cookies: string[] = [];
    for (let i = 0; i < 10; i += 1) cookies.push(await login(t, username, password));
    expect(await t.redis.zCard(index)).toBe(10);

    // Half of them disappear under the index (Redis idle TTL), the rest age out.
    for (const cookie of cookies.slice(0, 5)) await t.redis.del(sessionKey(t, sessionIdOf(cookie)));
    clock.advance(12 * 60 * 60_000 + 1000);
    const fresh = await login(t, username, password);

    expect(await t.redis.zCard(index)).toBe(1);
    expect((await viaEdge(t.app).get('/api/sessions').set('Cookie', fresh)).body.sessions).toHaveLength(1);
    expect(await t.redis.pTTL(index)).toBeGreaterThan(0);
  });

  it('when DELETE /api/sessions/:id names my own current session, then 204, the cookie is cleared and the session is over', async () => {
    const { username, password } = await createUser(t);
    const mine = await login(t, username, password);
    const ownId = (await viaEdge(t.app).get('/api/sessions').set('Cookie', mine)).body.sessions[0].id as string;

    const res = await viaEdge(t.app).delete(`/api/sessions/${ownId}`).set('Cookie', mine);

    expect(res.status).toBe(204);
    const setCookie = (res.headers['set-cookie'] as unknown as string[]).filter((c) =>
      c.startsWith(`${SESSION_COOKIE}=`),
    );
    expect(setCookie).toHaveLength(1);
    expect(setCookie[0]).toMatch(/Expires=Thu, 01 Jan 1970/);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', mine)).status).toBe(401);
  });

  it('when a revoked session record is written back by a request that was still in flight, then it stays revoked', async () => {
    const { username, password } = await createUser(t);
    const mine = await login(t, username, password);
    const stolen = await login(t, username, password);
    const key = sessionKey(t, sessionIdOf(stolen));
    const record = (await t.redis.get(key))!;

    await viaEdge(t.app).delete('/api/sessions').set('Cookie', mine);
    // What express-session does at the end of a request that loaded the session before the
    // revocation and moved its idle clock: it saves the (modified) record again, through the store.
    const inFlight = { ...(JSON.parse(record) as SessionData), lastSeenAt: t.clock.now() };
    await t.domain.sessionStore.set(sessionIdOf(stolen), inFlight);

    expect((await viaEdge(t.app).get('/api/me').set('Cookie', stolen)).status).toBe(401);
    expect(await t.redis.exists(key)).toBe(0);
  });

  it('when the password changed after a session began (a login racing the change), then that session no longer works', async () => {
    const { user, username, password } = await createUser(t);
    const raced = await login(t, username, password);

    // Another replica changes the password; its revocation sweep ran before this login indexed.
    clock.advance(1000);
    await t.domain.users.changePasswordHash(user.id, await t.domain.hasher.hash('the new passphrase!'));

    expect((await viaEdge(t.app).get('/api/me').set('Cookie', raced)).status).toBe(401);
  });

  it('when signed out, then the session endpoints answer 401', async () => {
    expect((await viaEdge(t.app).get('/api/sessions')).status).toBe(401);
    expect((await viaEdge(t.app).delete('/api/sessions')).status).toBe(401);
    expect((await viaEdge(t.app).delete('/api/sessions/abc')).status).toBe(401);
  });
});
