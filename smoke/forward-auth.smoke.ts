import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { BrowserContext, Page } from 'playwright-core';
import { loginAs, loginAsAdmin, logout, randomUsername } from './support/auth.ts';
import { launchChromium, type Browser } from './support/chromium.ts';
import { itWhen } from './support/conditional.ts';
import { postJson, request } from './support/http.ts';
import { envValues, origin, secret } from './support/stack.ts';

/**
 * Issue #20 through the stack's edge: the demo app at /demo/ behind nginx/snippets/protect.conf,
 * with the stack's default access rules (deploy/access-rules.json: the admin and the group
 * `demo`, on the host localhost). Same suite for the native and the compose stack.
 */
const DEMO = `${origin}/demo/`;
const demo = (cookie?: string, headers: Record<string, string> = {}) =>
  request('/demo/', { headers: { accept: 'application/json', ...headers, ...(cookie ? { cookie } : {}) } });
const withSignup = itWhen(envValues.SIGNUP_ENABLED === 'true');

/** A user the rules do not admit, through the sign-up API (the test stacks enable it). */
async function outsider(): Promise<{ username: string; password: string }> {
  const user = { username: randomUsername(), password: `smoke ${randomUsername()} pass` };
  const registered = await postJson('/api/register', user);
  expect(registered.status).toBe(201);
  return user;
}

describe('forward auth at the edge', () => {
  it('when a signed-out client opens the demo app, then 302 to the login page with the demo URL as return target', async () => {
    const res = await demo();
    expect(res.status).toBe(302);
    const location = new URL(res.one('location'));
    expect(`${location.origin}${location.pathname}`).toBe(`${origin}/login`);
    expect(location.searchParams.get('rd')).toBe(DEMO);
  });

  it('when the admin sends a forged Remote-User, then the app receives the admin’s own identity, never the forged one', async () => {
    const { cookie } = await loginAsAdmin();
    try {
      const res = await demo(cookie, { 'remote-user': 'mallory', 'remote-groups': 'root', 'remote-name': 'Mallory' });
      expect(res.status).toBe(200);
      // The admin is in no group: no Remote-Groups reaches the app at all, the forged one neither.
      expect(res.json<{ identity: Record<string, string> }>().identity).toEqual({
        'Remote-User': secret('ADMIN_USERNAME'),
        'Remote-Name': secret('ADMIN_USERNAME'),
      });
    } finally {
      await logout(cookie);
    }
  });

  it('when the admin logs out, then the very next request to the demo app is sent to sign in', async () => {
    const { cookie } = await loginAsAdmin();
    expect((await demo(cookie)).status).toBe(200);
    expect((await logout(cookie)).status).toBe(204);
    expect((await demo(cookie)).status).toBe(302);
  });

  withSignup('when a signed-in user no rule admits opens the demo app, then 403 with a JSON body', async () => {
    const user = await outsider();
    const { cookie } = await loginAs(user.username, user.password);
    const res = await demo(cookie);
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ error: 'forbidden' });
  });

  describe('in Chromium', () => {
    let browser: Browser;
    let context: BrowserContext;
    beforeAll(async () => {
      browser = await launchChromium();
      context = browser.context;
    });
    afterAll(() => browser?.close());

    const signIn = async (page: Page, username: string, password: string) => {
      await page.fill('input[name="username"]', username);
      await page.fill('input[name="password"]', password);
      await page.click('form[action="/login"] button[type="submit"]');
    };

    it('when a signed-out user opens the demo app, signs in and signs out, then they land on the login page, back on the demo app showing their name, and on the login page again', async () => {
      const page = await context.newPage();
      await page.goto(DEMO);
      expect(new URL(page.url()).pathname).toBe('/login');

      await signIn(page, secret('ADMIN_USERNAME'), secret('ADMIN_PASSWORD'));
      await page.waitForURL(DEMO);
      expect(await page.textContent('[data-header="Remote-User"]')).toBe(secret('ADMIN_USERNAME'));

      await page.goto(`${origin}/`);
      await page.click('form[action="/logout"] button[type="submit"]');
      await page.waitForURL(`${origin}/login`);
      await page.goto(DEMO);
      expect(new URL(page.url()).pathname).toBe('/login');
      await page.close();
    });

    withSignup('when a user no rule admits signs in from the demo app, then the demo app answers 403', async () => {
      const { username, password } = await outsider();
      const page = await context.newPage();
      await page.goto(DEMO);
      const [back] = await Promise.all([
        page.waitForResponse((r) => r.url() === DEMO),
        signIn(page, username, password),
      ]);
      expect(back.status()).toBe(403);
      await page.close();
    });
  });
});
