import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { buildTestApp, createUser, uniqueUsername, type TestApp } from '../helpers/test-app.ts';
import { serveBehindEdge, type ServedBehindEdge } from '../helpers/served.ts';
import { httpClient } from '../../../testkit/http.ts';

/**
 * Security review 2, suspected finding 5: password hashing outside the edge's limit. Every
 * endpoint that hashes a password (login, sign-up, password change) shares the edge's per-client
 * rate limit, whose burst (20) stays below the service's hashing capacity (HASH_QUEUE_LIMIT 32
 * plus the running hashes): one address driving several accounts cannot fill the queue, so other
 * people still sign in. Real nginx with the project's configuration, in front of the real app.
 */
describe('the edge limit on password hashing', () => {
  let t: TestApp;
  let edge: ServedBehindEdge;
  beforeAll(async () => {
    t = await buildTestApp({ SIGNUP_ENABLED: 'true', SIGNUP_MAX_PER_IP_PER_HOUR: '10000' });
    edge = await serveBehindEdge(t.app);
  });
  afterAll(async () => {
    await edge.close();
    await t.close();
  });

  it('when one address floods password changes for several accounts and sign-ups, then the edge refuses past its burst and another client signs in meanwhile, never told busy', async () => {
    const flooder = httpClient({ caFiles: [edge.caFile] }).send;
    const someoneElse = httpClient({ caFiles: [edge.caFile], localAddress: '127.0.0.2' }).send;
    const accounts = await Promise.all(Array.from({ length: 5 }, () => createUser(t)));
    const cookies: string[] = [];
    for (const { username, password } of accounts) {
      cookies.push((await flooder(`${edge.origin}/api/login`, { json: { username, password } })).cookie()!);
    }
    const victim = await createUser(t);

    const flood = Array.from({ length: 120 }, (_, i) =>
      i % 2 === 0
        ? flooder(`${edge.origin}/api/password`, {
            headers: { cookie: cookies[i % cookies.length]! },
            json: { currentPassword: `a wrong current password ${i}`, newPassword: 'whatever it would be' },
          })
        : flooder(`${edge.origin}/api/register`, {
            json: { username: uniqueUsername('flood'), password: 'a fine long passphrase' },
          }),
    );
    const victimLogin = someoneElse(`${edge.origin}/api/login`, {
      json: { username: victim.username, password: victim.password },
    });
    const statuses = (await Promise.all(flood)).map((r) => r.status);
    const victimAnswer = await victimLogin;

    expect(victimAnswer.status).toBe(200);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(120 - 30);
    expect(statuses).not.toContain(503);
  });
});
