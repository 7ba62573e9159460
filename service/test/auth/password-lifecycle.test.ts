import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import argon2 from 'argon2';
import { randomBytes } from 'node:crypto';
import type { SessionData } from 'express-session';
import { SessionRefusedError } from '../../src/sessions/session-store.ts';
import {
  TestClock,
  buildTestApp,
  createUser,
  login,
  sessionCookie,
  uniqueUsername,
  viaEdge,
  type TestApp,
} from '../helpers/test-app.ts';

describe('POST /api/password', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ LOGIN_MAX_CONSECUTIVE_FAILURES: '3' });
  });
  afterAll(() => t.close());

  it('when the current password is right, then 204, other sessions end, the current one gets a new id and the new password works', async () => {
    const { username, password } = await createUser(t);
    const mine = await login(t, username, password);
    const other = await login(t, username, password);

    const res = await viaEdge(t.app)
      .post('/api/password')
      .set('Cookie', mine)
      .send({ currentPassword: password, newPassword: 'a brand new long passphrase' });
    const renewed = sessionCookie(res)!;

    expect(res.status).toBe(204);
    expect(renewed.split('.')[0]).not.toBe(mine.split('.')[0]);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', renewed)).status).toBe(200);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', mine)).status).toBe(401);
    expect((await viaEdge(t.app).get('/api/me').set('Cookie', other)).status).toBe(401);
    expect((await viaEdge(t.app).post('/api/login').send({ username, password })).status).toBe(401);
    await login(t, username, 'a brand new long passphrase');
  });

  it('when the current password is wrong, then 401, and repeated failures are throttled like a login', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);
    const attempt = () =>
      viaEdge(t.app)
        .post('/api/password')
        .set('Cookie', cookie)
        .send({ currentPassword: 'wrong wrong wrong', newPassword: 'another long passphrase' });

    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await attempt()).status);

    expect(statuses).toEqual([401, 401, 401, 429]);
    const blocked = await viaEdge(t.app)
      .post('/api/password')
      .set('Cookie', cookie)
      .send({ currentPassword: password, newPassword: 'another long passphrase' });
    expect(blocked.status).toBe(429);
    expect(blocked.body.error).toBe('too_many_attempts');
  });

  it('when the new password is on the common-password list or too short, then 400 weak_password and nothing changes', async () => {
    const { username, password } = await createUser(t);
    const cookie = await login(t, username, password);

    for (const newPassword of ['qwerty123456', 'short']) {
      const res = await viaEdge(t.app)
        .post('/api/password')
        .set('Cookie', cookie)
        .send({ currentPassword: password, newPassword });
      expect({ newPassword, status: res.status, error: res.body.error }).toEqual({
        newPassword,
        status: 400,
        error: 'weak_password',
      });
    }
    await login(t, username, password);
  });

  it('when not signed in, then 401', async () => {
    expect((await viaEdge(t.app).post('/api/password').send({ currentPassword: 'x', newPassword: 'y' })).status).toBe(
      401,
    );
  });
});

describe('the credential version (security review 2: a counter, not a timestamp)', () => {
  it('when the password changes in the same millisecond a login checked the old one, then that login cannot create its session; each change moves the version up by one', async () => {
    // A frozen clock: every step below happens in the same millisecond, as on a busy primary or
    // after a failover to a replica whose clock is behind.
    const clock = new TestClock();
    const t = await buildTestApp({}, { clock });
    try {
      const { user } = await createUser(t);
      const checkedBefore = (await t.domain.users.findById(user.id))!;
      const now = clock.now();

      const first = await t.domain.accounts.changePassword(user, 'the first new passphrase');
      const second = await t.domain.accounts.changePassword(user, 'the second new passphrase');
      const creating = t.domain.sessionStore.create(
        randomBytes(32).toString('base64url'),
        {
          userId: user.id,
          username: user.username,
          createdAt: now,
          lastSeenAt: now,
          ip: '192.0.2.7',
          userAgent: 'race',
          credentialVersion: checkedBefore.credentialVersion,
          signedWith: 'test',
        } as SessionData,
        20,
      );

      await expect(creating).rejects.toBeInstanceOf(SessionRefusedError);
      expect([first.user.credentialVersion, second.user.credentialVersion]).toEqual([
        checkedBefore.credentialVersion + 1,
        checkedBefore.credentialVersion + 2,
      ]);
    } finally {
      await t.close();
    }
  });
});

describe('transparent re-hashing', () => {
  it('when a user logs in whose hash used weaker argon2 parameters, then the stored hash is upgraded to the configured ones', async () => {
    const t = await buildTestApp();
    try {
      const username = uniqueUsername();
      const password = 'legacy long passphrase';
      const weak = await argon2.hash(password, {
        type: argon2.argon2id,
        memoryCost: 4096,
        timeCost: 1,
        parallelism: 1,
      });
      const user = await t.domain.users.create(username, weak);

      await login(t, username, password);

      const stored = (await t.domain.users.findById(user.id))!.passwordHash;
      expect(stored).not.toBe(weak);
      expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2\$/);
      expect(await argon2.verify(stored, password)).toBe(true);
      expect(t.logs.events('user.rehashed')).toHaveLength(1);
    } finally {
      await t.close();
    }
  });
});

describe('POST /api/register', () => {
  it('when sign-up is disabled (the default), then 404', async () => {
    const t = await buildTestApp();
    try {
      const res = await viaEdge(t.app)
        .post('/api/register')
        .send({ username: uniqueUsername(), password: 'a fine long passphrase' });
      expect(res.status).toBe(404);
    } finally {
      await t.close();
    }
  });

  describe('when sign-up is enabled', () => {
    let t: TestApp;
    beforeAll(async () => {
      t = await buildTestApp({ SIGNUP_ENABLED: 'true', SIGNUP_MAX_PER_IP_PER_HOUR: '4' });
    });
    afterAll(() => t.close());

    it('then a new username gets 201, a signed-in session and a user.created event', async () => {
      const username = uniqueUsername();

      const res = await viaEdge(t.app)
        .post('/api/register')
        .set('X-Forwarded-For', '192.0.2.1')
        .send({ username, password: 'a fine long passphrase' });

      expect(res.status).toBe(201);
      expect(res.body.user.username).toBe(username);
      expect((await viaEdge(t.app).get('/api/me').set('Cookie', sessionCookie(res)!)).status).toBe(200);
      expect(t.logs.events('user.created').some((e) => e.userId === res.body.user.id)).toBe(true);
    });

    it('then a taken username, in any case, gets 409 username_taken', async () => {
      const { username } = await createUser(t, uniqueUsername('Taken'));

      const res = await viaEdge(t.app)
        .post('/api/register')
        .set('X-Forwarded-For', '192.0.2.2')
        .send({ username: username.toLowerCase(), password: 'a fine long passphrase' });

      expect(res.status).toBe(409);
      expect(res.body.error).toBe('username_taken');
    });

    it('then a common password gets 400 weak_password', async () => {
      const res = await viaEdge(t.app)
        .post('/api/register')
        .set('X-Forwarded-For', '192.0.2.3')
        .send({ username: uniqueUsername(), password: '1qaz2wsx3edc' });

      expect(res.status).toBe(400);
      expect(res.body.error).toBe('weak_password');
    });

    it('then registrations are throttled per IP with 429 and Retry-After', async () => {
      const statuses: number[] = [];
      for (let i = 0; i < 5; i += 1) {
        const res = await viaEdge(t.app)
          .post('/api/register')
          .set('X-Forwarded-For', '192.0.2.50')
          .send({ username: uniqueUsername(), password: 'a fine long passphrase' });
        statuses.push(res.status);
        if (res.status === 429) expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      }
      expect(statuses).toEqual([201, 201, 201, 201, 429]);
    });
  });
});
