import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { SessionData } from 'express-session';
import type { SessionStore } from '../../src/sessions/session-store.ts';
import { buildTestApp, createUser, type TestApp } from '../helpers/test-app.ts';

/**
 * connect-redis's own test cases (its index_test.ts, `lifecycleTest`), run against SessionStore,
 * case by case: get, set, TTL, touch, destroy, length, ids, all, clear, a thousand sessions, and
 * a session that has expired. Where SessionStore's rules differ from a plain RedisStore (the
 * class comment in session-store.ts says why), the case asserts the store's rule and says so:
 *  - a session is created by `create` (indexed under its user), `set` only changes one;
 *  - the TTL is the session's own idle or absolute deadline, not its cookie's expiry;
 *  - keys, `ids` and `all` name a session by the digest of its id;
 *  - there is no `touch`.
 */
describe("connect-redis's test cases against SessionStore", () => {
  let t: TestApp;
  let store: SessionStore;
  let user: { id: string; username: string; credentialVersion: number };

  beforeAll(async () => {
    t = await buildTestApp();
    store = t.domain.sessionStore;
    ({ user } = await createUser(t));
  });
  afterAll(() => t.close());

  /** A session of the test user, last seen `idleForMs` ago (the cookie's expiry does not matter here). */
  const session = (extra: Partial<SessionData> = {}, idleForMs = 0): SessionData => {
    const now = t.clock.now();
    return {
      userId: user.id,
      username: user.username,
      createdAt: now - idleForMs,
      lastSeenAt: now - idleForMs,
      ip: '203.0.113.9',
      userAgent: 'connect-redis lifecycle',
      credentialVersion: user.credentialVersion,
      signedWith: 'test',
      ...extra,
    } as SessionData;
  };
  const key = (sid: string) => t.domain.keys.session(t.domain.keys.sessionMember(sid));
  const create = (sid: string, sess: SessionData) => store.create(sid, sess, 1_000_000);

  it('defaults: the prefix is the service key prefix, records are JSON, and there is no touch', () => {
    expect(store.prefix).toBe(`${t.prefix}sess:`);
    expect(store.serializer).toBe(JSON);
    expect(store.scanCount).toBe(100);
    expect((store as { touch?: unknown }).touch).toBeUndefined();
  });

  it('set then get: what was stored is what is read (a session is created first, set changes it)', async () => {
    await store.clear();
    const sess = session({ foo: 'bar' } as Partial<SessionData>);

    await create('123', sess);
    const created = await store.get('123');
    await store.set('123', { ...sess, lastSeenAt: sess.lastSeenAt + 1 });
    const changed = await store.get('123');

    expect(created).toEqual(sess);
    expect(changed).toEqual({ ...sess, lastSeenAt: sess.lastSeenAt + 1 });
  });

  it('set never creates: a session that does not exist stays absent', async () => {
    await store.set('never-created', session());

    expect(await store.get('never-created')).toBeNull();
    expect(await t.redis.exists(key('never-created'))).toBe(0);
  });

  it('TTL: a new record lives until its idle deadline (connect-redis: its ttl option, a day by default)', async () => {
    await create('123-ttl', session());

    const ttl = await t.redis.pTTL(key('123-ttl'));

    expect(ttl).toBeGreaterThan(t.config.session.idleTimeoutMs - 5_000);
    expect(ttl).toBeLessThanOrEqual(t.config.session.idleTimeoutMs);
  });

  it('TTL: a session with 60 s left lives at most 60 s more (connect-redis: a cookie expiring in 60 s)', async () => {
    const idle = t.config.session.idleTimeoutMs;
    await create('456', session());

    await store.set('456', session({}, idle - 60_000));

    expect(await t.redis.pTTL(key('456'))).toBeLessThanOrEqual(60_000);
  });

  it('touch: not implemented, so a read leaves the TTL alone (connect-redis: touch extends it)', async () => {
    const idle = t.config.session.idleTimeoutMs;
    await create('789-touch', session());
    await store.set('789-touch', session({}, idle - 60_000));

    await store.get('789-touch');

    expect(await t.redis.pTTL(key('789-touch'))).toBeLessThanOrEqual(60_000);
  });

  it('length, ids and all: the two sessions stored, named by the digest of their id', async () => {
    await store.clear();
    const one = session({ foo: 'bar' } as Partial<SessionData>);
    const two = session({ foo: 'baz' } as Partial<SessionData>);
    await create('123', one);
    await create('456', two);

    const length = await store.length();
    const ids = ((await store.ids()) as string[]).sort();
    const all = ((await store.all()) as Array<SessionData & { id: string }>).sort((a, b) => (a.id > b.id ? 1 : -1));

    expect(length).toBe(2);
    const digests = ['123', '456'].map((sid) => t.domain.keys.sessionMember(sid)) as [string, string];
    expect(ids).toEqual([...digests].sort());
    expect(all).toEqual(
      [
        { ...one, id: digests[0] },
        { ...two, id: digests[1] },
      ].sort((a, b) => (a.id > b.id ? 1 : -1)),
    );
  });

  it('destroy: one of two sessions goes, one remains', async () => {
    await store.clear();
    await create('123', session());
    await create('456', session());

    await store.destroy('456');

    expect(await store.length()).toBe(1);
    expect(await store.get('456')).toBeNull();
  });

  it('clear: no session remains', async () => {
    await create('123', session());

    await store.clear();

    expect(await store.length()).toBe(0);
  });

  it('a thousand sessions: all stored, all cleared', async () => {
    await store.clear();
    for (let sid = 0; sid < 1000; sid += 1) await create(`s${sid}`, session());

    const stored = await store.length();
    await store.clear();

    expect(stored).toBe(1000);
    expect(await store.length()).toBe(0);
  });

  it('a session whose deadline is in the future is kept; set with its deadline in the past deletes it', async () => {
    await store.clear();
    await create('789', session());
    const kept = await store.length();

    await store.set('789', session({}, t.config.session.idleTimeoutMs + 1_000));

    expect(kept).toBe(1);
    expect(await store.length()).toBe(0);
  });
});
