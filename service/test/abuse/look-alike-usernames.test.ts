import { randomInt } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { usernameSkeleton } from '../../src/users/username.ts';
import { buildTestApp, createUser, viaEdge, type TestApp } from '../helpers/test-app.ts';

/** A name-safe number, the same for a name and its look-alikes (digits belong to every script). */
const suffix = () => String(randomInt(1e9, 1e10));

/**
 * Security review 2, finding 3: look-alike usernames. With "admin" registered, "аdmin"
 * (Cyrillic а), "admın" (dotless ı) and "аdmіn" must not be: registration refuses a name whose
 * confusable skeleton (Unicode TS #39, confusables.txt through unhomoglyph) is an existing
 * user's, and a name that mixes scripts. The operator CLI goes through the same rule
 * (process/users-cli).
 */
describe('look-alike usernames', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp({ SIGNUP_ENABLED: 'true', SIGNUP_MAX_PER_IP_PER_HOUR: '1000' });
  });
  afterAll(() => t.close());

  const register = (username: string) =>
    viaEdge(t.app)
      .post('/api/register')
      .set('X-Forwarded-For', '192.0.2.90')
      .send({ username, password: 'a fine long passphrase' });

  it('when "admin" exists, then "аdmin" (Cyrillic а), "admın" (dotless ı) and "аdmіn" (Cyrillic а and і) are all refused and none of them is created', async () => {
    const n = suffix();
    await createUser(t, `admin${n}`);

    const answers = await Promise.all(
      [`\u0430dmin${n}`, `adm\u0131n${n}`, `\u0430dm\u0456n${n}`].map(async (name) => (await register(name)).status),
    );

    expect(answers).toEqual([400, 409, 400]);
    expect((await t.domain.users.list()).filter((u) => u.username.endsWith(n)).map((u) => u.username)).toEqual([
      `admin${n}`,
    ]);
  });

  it('when a name looks like an existing one in another single script ("сосо" in Cyrillic for "coco"), then 409 username_taken, saying it looks like a taken name', async () => {
    const n = suffix();
    await createUser(t, `coco${n}`);

    const res = await register(`\u0441\u043e\u0441\u043e${n}`);

    expect(res.status).toBe(409);
    expect(res.body).toEqual({ error: 'username_taken', message: expect.stringMatching(/looks/) });
  });

  it('when a name mixes scripts ("pаypаl" with Cyrillic а), then 400 invalid_request, whatever exists', async () => {
    const res = await register(`p\u0430yp\u0430l${suffix()}`);

    expect(res.status).toBe(400);
    expect(res.body).toEqual({ error: 'invalid_request', message: expect.stringMatching(/one script/) });
  });

  it('when names in one script other than Latin, or Japanese mixing kanji and kana, are new, then they register', async () => {
    const answers = await Promise.all(
      [`\u0438\u0432\u0430\u043d${suffix()}`, `\u7530\u4e2d\u305f\u308d\u3046${suffix()}`, `alice.${suffix()}`].map(
        async (name) => (await register(name)).status,
      ),
    );

    expect(answers).toEqual([201, 201, 201]);
  });

  it('when users from before the look-alike claim exist, then the start-up backfill claims their skeletons and their look-alikes are refused', async () => {
    const n = suffix();
    await createUser(t, `legacy${n}`);
    // As a user from before this change: no skeleton claim.
    await t.redis.del(t.domain.keys.usernameSkeleton(usernameSkeleton(`legacy${n}`)));
    const claimed = await t.domain.users.claimMissingSkeletons();
    const lookAlike = await register(`1egacy${n}`);

    expect(claimed).toBe(1);
    expect(lookAlike.status).toBe(409);
  });
});
