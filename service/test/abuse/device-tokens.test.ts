import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  DEVICE_COOKIE,
  GOOD_PASSWORD,
  buildTestApp,
  createUser,
  login,
  sessionCookie,
  uniqueUsername,
  viaEdge,
  type TestApp,
} from '../helpers/test-app.ts';

const DEVICE = DEVICE_COOKIE;
const NEW_PASSWORD = 'the victim changed it to this';

/** `name=value` of the device cookie a response sets, or undefined. */
function deviceCookieOf(res: { headers: Record<string, unknown> }): string | undefined {
  const header = res.headers['set-cookie'] as string[] | undefined;
  return header?.find((c) => c.startsWith(`${DEVICE}=`))?.split(';')[0];
}

/** The device id inside a device cookie (v2.<id>.<issued>.<mac>). */
const deviceIdOf = (cookie: string) => cookie.split('=')[1]!.split('.')[1];

const attempt = (t: TestApp, username: string, password: string, ip: string, cookie?: string) => {
  const req = viaEdge(t.app).post('/api/login').set('X-Forwarded-For', ip);
  if (cookie) req.set('Cookie', cookie);
  return req.send({ username, password });
};

/** Wrong guesses, each cookie in turn (or none) until it is refused; how many were judged (401). */
async function judgedGuesses(
  t: TestApp,
  username: string,
  ip: string,
  cookies: Array<string | undefined>,
): Promise<number> {
  let judged = 0;
  for (const [i, cookie] of cookies.entries()) {
    for (let n = 0; n < 40; n += 1) {
      const { status } = await attempt(t, username, `wrong guess ${i}.${n}`, ip, cookie);
      if (status === 401) judged += 1;
      else if (status === 429) break;
      else throw new Error(`unexpected ${status}`);
    }
  }
  return judged;
}

/** Locks the account for anonymous clients: the per-account budget spent from several addresses. */
async function lockForAnonymousClients(t: TestApp, username: string, accountLimit: number): Promise<void> {
  for (let i = 0; i < accountLimit; i += 1)
    expect((await attempt(t, username, `spray ${i}`, `203.0.113.${100 + i}`)).status).toBe(401);
  expect((await attempt(t, username, 'one more', '203.0.113.120')).status).toBe(429);
}

/** `count` device cookies for the account, each from its own fresh login (what someone who once knew the password can collect). */
async function collectDeviceCookies(
  t: TestApp,
  username: string,
  password: string,
  ip: string,
  count: number,
): Promise<string[]> {
  const cookies: string[] = [];
  for (let i = 0; i < count; i += 1) {
    const res = await attempt(t, username, password, ip);
    expect(res.status).toBe(200);
    cookies.push(deviceCookieOf(res)!);
  }
  return cookies;
}

async function changePassword(t: TestApp, username: string, from: string, to: string): Promise<void> {
  const cookie = await login(t, username, from, { 'X-Forwarded-For': '192.0.2.200' });
  const res = await viaEdge(t.app)
    .post('/api/password')
    .set('Cookie', cookie)
    .send({ currentPassword: from, newPassword: to });
  expect(res.status).toBe(204);
}

/**
 * Security review 2, finding 1 and 2: device cookies. A device cookie is bound to the account
 * (its id, not its name) and to the account's device generation, which a password change, "sign
 * out everywhere else" and a removal end; one browser holds one, refreshed rather than
 * multiplied; and device-path failures count toward a per-account budget, so the judged
 * guesses at an account stay bounded however many device cookies someone holds.
 */
describe('device cookies', () => {
  let t: TestApp;
  // A small anonymous account budget, so "the account is locked for anonymous clients" is quick to reach.
  const ACCOUNT_LIMIT = 5;
  beforeAll(async () => {
    t = await buildTestApp({
      LOGIN_MAX_FAILURES_PER_ACCOUNT_PER_HOUR: String(ACCOUNT_LIMIT),
      LOGIN_MAX_DEVICE_FAILURES_PER_ACCOUNT_PER_HOUR: '15',
    });
  });
  afterAll(() => t.close());

  it('when valid device cookies are held, then the judged guesses at the account stay within the device-path budget however many there are', async () => {
    const { username, password } = await createUser(t);
    const held = await collectDeviceCookies(t, username, password, '198.51.100.40', 5);

    const judged = await judgedGuesses(t, username, '198.51.100.41', held);

    expect(judged).toBe(t.config.throttle.maxDeviceFailuresPerAccountPerHour);
  });

  it('when a browser presenting its valid device cookie signs in again, then the cookie is refreshed with the same device id, not multiplied', async () => {
    const { username, password } = await createUser(t);
    const [first] = await collectDeviceCookies(t, username, password, '198.51.100.50', 1);

    const again = await attempt(t, username, password, '198.51.100.50', first);

    expect(again.status).toBe(200);
    expect(deviceIdOf(deviceCookieOf(again)!)).toBe(deviceIdOf(first!));
  });

  it('when the password changed, then a device cookie from before, even with the right new password, is no trusted device: a locked account stays locked for it', async () => {
    const { username, password } = await createUser(t);
    const [before] = await collectDeviceCookies(t, username, password, '198.51.100.60', 1);
    await changePassword(t, username, password, NEW_PASSWORD);
    await lockForAnonymousClients(t, username, ACCOUNT_LIMIT);

    const withOldCookie = await attempt(t, username, NEW_PASSWORD, '198.51.100.61', before);

    expect(withOldCookie.status).toBe(429);
  });

  it('when a user signs out everywhere else, then every other browser loses its device trust and this one keeps it (the same device id)', async () => {
    const { username, password } = await createUser(t);
    const [elsewhere] = await collectDeviceCookies(t, username, password, '198.51.100.70', 1);
    const here = await attempt(t, username, password, '198.51.100.71');
    const hereDevice = deviceCookieOf(here)!;

    const signOut = await viaEdge(t.app)
      .delete('/api/sessions')
      .set('X-Forwarded-For', '198.51.100.71')
      .set('Cookie', `${sessionCookie(here)!}; ${hereDevice}`);
    const refreshed = deviceCookieOf(signOut)!;
    await lockForAnonymousClients(t, username, ACCOUNT_LIMIT);

    expect(signOut.status).toBe(204);
    expect(deviceIdOf(refreshed)).toBe(deviceIdOf(hereDevice));
    expect((await attempt(t, username, password, '198.51.100.72', elsewhere)).status).toBe(429);
    expect((await attempt(t, username, password, '198.51.100.73', refreshed)).status).toBe(200);
  });

  it('when the user was removed and the name registered again by someone else, then the old device cookie is no trusted device for the new account', async () => {
    const username = uniqueUsername('reused');
    const { user } = await createUser(t, username);
    const [old] = await collectDeviceCookies(t, username, GOOD_PASSWORD, '198.51.100.80', 1);
    await t.domain.accounts.remove(user);
    await createUser(t, username, 'the newcomer picked this one');
    await lockForAnonymousClients(t, username, ACCOUNT_LIMIT);

    const withOldCookie = await attempt(t, username, 'the newcomer picked this one', '198.51.100.81', old);

    expect(withOldCookie.status).toBe(429);
  });
});

describe('device cookies, with the default throttle budgets', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await buildTestApp();
  });
  afterAll(() => t.close());

  it('when someone kept 30 device cookies and the victim then changes the password, then those cookies give no more judged guesses than a client with none', async () => {
    const { username, password } = await createUser(t);
    const kept = await collectDeviceCookies(t, username, password, '198.51.100.30', 30);
    await changePassword(t, username, password, NEW_PASSWORD);

    const withTheCookies = await judgedGuesses(t, username, '198.51.100.31', kept);
    const withNone = await judgedGuesses(t, username, '198.51.100.32', [undefined]);

    expect(withNone).toBe(t.config.throttle.maxConsecutiveFailures);
    expect(withTheCookies).toBeLessThanOrEqual(withNone);
  });
});
