import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { BrowserContext, ConsoleMessage, Page } from 'playwright-core';
import { loginAs, randomUsername } from './support/auth.ts';
import { checkAccessibility } from './support/axe.ts';
import { request } from './support/http.ts';
import { DASHBOARD_SAMPLE_VALUES, saveScreenshot } from './support/screenshots.ts';
import { launchChromium, type Browser } from './support/chromium.ts';
import { itWhen } from './support/conditional.ts';
import { envValues, origin, secret } from './support/stack.ts';

// Runs in every page before its own scripts: records each CSP violation the page reports.
// A string, because this project compiles without DOM types.
const RECORD_CSP_VIOLATIONS = `
  window.cspViolations = [];
  document.addEventListener('securitypolicyviolation', (event) => {
    window.cspViolations.push(event.violatedDirective + ' ' + event.blockedURI);
  });
`;

/** Clicks the form's submit button and answers the status of the post (with the body unless it is a 303). */
async function submitForm(page: Page, action: string): Promise<{ status: number; body: string }> {
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === action),
    page.click(`form[action="${action}"] button[type="submit"]`),
  ]);
  return { status: response.status(), body: response.status() === 303 ? '' : await response.text() };
}

/**
 * The page as it is now: no CSP violation so far, and no WCAG 2.1 A/AA violation that axe finds,
 * in the light and in the dark colour scheme (the stylesheet follows the system's). Logs what
 * axe could not decide, for a person to review.
 */
async function expectAccessible(page: Page) {
  const where = new URL(page.url()).pathname;
  expect({ where, cspViolations: await page.evaluate<string[]>('window.cspViolations') }).toEqual({
    where,
    cspViolations: [],
  });
  for (const colorScheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme });
    const report = await checkAccessibility(page);
    console.info(
      `axe ${where} (${colorScheme}): ${report.violations.length} violations, ${report.passed} rules passed` +
        (report.incomplete.length ? `, to review by hand: ${report.incomplete.join(', ')}` : ''),
    );
    expect({ where, colorScheme, axeViolations: report.violations }).toEqual({ where, colorScheme, axeViolations: [] });
  }
  await page.emulateMedia({ colorScheme: null });
}

describe('a real browser', () => {
  let browser: Browser;
  let context: BrowserContext;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    // Chromium keeps its own trust store; the certificate itself is checked by the other suites.
    browser = await launchChromium();
    context = browser.context;
    await context.addInitScript({ content: RECORD_CSP_VIOLATIONS });
    context.on('console', (message: ConsoleMessage) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
  });

  afterAll(() => browser?.close());

  it('when a user signs in through the login form, then the dashboard shows the username, no CSP violation occurs, and the logout form ends the session', async () => {
    const username = secret('ADMIN_USERNAME');
    const page = await context.newPage();

    await page.goto(`${origin}/login`);
    await page.fill('input[name="username"]', username);
    await page.fill('input[name="password"]', secret('ADMIN_PASSWORD'));
    const [loginPost] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login'),
      page.click('form[action="/login"] button[type="submit"]'),
    ]);
    // Status and body together, so a refusal (e.g. 403 cross_origin) says why in the failure.
    expect({ status: loginPost.status(), body: loginPost.status() === 303 ? '' : await loginPost.text() }).toEqual({
      status: 303,
      body: '',
    });
    await page.waitForURL(`${origin}/`);
    const dashboardText = await page.textContent('body');
    const violations = await page.evaluate<string[]>('window.cspViolations');
    const cookies = await context.cookies(origin);

    await Promise.all([page.waitForURL(`${origin}/login`), page.click('form[action="/logout"] button[type="submit"]')]);
    const afterLogout = await page.goto(`${origin}/`);

    expect(dashboardText).toContain(username);
    expect(violations).toEqual([]);
    expect(consoleErrors.filter((text) => /content security policy/i.test(text))).toEqual([]);
    expect(cookies.map((c) => [c.name, c.secure, c.httpOnly, c.sameSite]).sort()).toEqual([
      ['__Host-device', true, true, 'Strict'],
      ['__Host-sid', true, true, 'Lax'],
    ]);
    // Signed out: the dashboard sends the browser back to the login form.
    expect(new URL(afterLogout!.url()).pathname).toBe('/login');
  });

  it('when axe checks the login page, then it finds no WCAG 2.1 A/AA violation (this page is docs/screenshots/login.png)', async () => {
    await context.clearCookies();
    const page = await context.newPage();

    await page.goto(`${origin}/login`);

    await expectAccessible(page);
    await saveScreenshot(page, 'login');
    await page.close();
  });

  describe('the account pages', () => {
    // The sign-up page exists only with SIGNUP_ENABLED=true (the test stacks set it; the settings
    // smoke proves the page follows the setting). Without it there is no page to check and no
    // fresh user: the admin's password is never changed here, and these tests are reported skipped.
    const withSignup = itWhen(envValues.SIGNUP_ENABLED === 'true');

    /** Registers a fresh user through the sign-up page; the browser is then signed in as them. */
    async function signUp(page: Page): Promise<{ username: string; password: string }> {
      const credentials = { username: randomUsername(), password: `smoke passphrase ${randomUsername()}` };
      await page.goto(`${origin}/register`);
      await page.fill('#username', credentials.username);
      await page.fill('#password', credentials.password);
      expect(await submitForm(page, '/register')).toEqual({ status: 303, body: '' });
      await page.waitForURL(`${origin}/?notice=registered`);
      return credentials;
    }

    withSignup(
      'when a new user signs up through the sign-up page the login page links to, then the dashboard greets them with a notice; axe finds no violation on the sign-up page, blank or showing an error, nor on the dashboard (docs/screenshots/dashboard.png)',
      async () => {
        await context.clearCookies();
        const page = await context.newPage();
        const username = randomUsername();

        await page.goto(`${origin}/login`);
        await Promise.all([page.waitForURL(`${origin}/register`), page.click('a[href="/register"]')]);
        await expectAccessible(page);
        // Long enough for the browser's own minlength check, but on the common-password list.
        await page.fill('#username', username);
        await page.fill('#password', '1qaz2wsx3edc');
        const weak = await submitForm(page, '/register');
        await page.waitForSelector('#password-error');
        await expectAccessible(page);
        await page.fill('#password', `smoke passphrase ${randomUsername()}`);
        const created = await submitForm(page, '/register');
        await page.waitForURL(`${origin}/?notice=registered`);
        const dashboard = await page.textContent('main');
        await expectAccessible(page);

        expect(weak.status).toBe(400);
        expect(created).toEqual({ status: 303, body: '' });
        expect(dashboard).toContain(username);
        expect(dashboard).toContain('Your account was created');
        // The dashboard as it usually looks (no notice), with fixed sample values for what differs per run.
        await page.goto(`${origin}/`);
        await page.evaluate(DASHBOARD_SAMPLE_VALUES);
        await saveScreenshot(page, 'dashboard');
        await page.close();
      },
    );

    withSignup(
      'when a fresh user changes the password on the change-password page, then the dashboard says the other sessions were signed out, another session gets 401, the old password fails and the new one signs in; axe finds no violation on the page, blank or showing an error',
      async () => {
        await context.clearCookies();
        const page = await context.newPage();
        const { username, password } = await signUp(page);
        const other = await loginAs(username, password);
        const newPassword = `changed passphrase ${randomUsername()}`;

        await Promise.all([page.waitForURL(`${origin}/password`), page.click('a[href="/password"]')]);
        await expectAccessible(page);
        await page.fill('#currentPassword', 'not the current password');
        await page.fill('#newPassword', newPassword);
        const wrong = await submitForm(page, '/password');
        await page.waitForSelector('#currentPassword-error');
        const wrongState = {
          invalid: await page.getAttribute('#currentPassword', 'aria-invalid'),
          describedBy: await page.getAttribute('#currentPassword', 'aria-describedby'),
          focused: await page.evaluate<string>('document.activeElement.id'),
        };
        await expectAccessible(page);
        await page.fill('#currentPassword', password);
        await page.fill('#newPassword', newPassword);
        // Alive right before the change (the test stacks' idle timeout is short): its end below is the change's doing.
        const otherBefore = await request('/api/me', { headers: { cookie: other.cookie } });
        const changed = await submitForm(page, '/password');
        await page.waitForURL(`${origin}/?notice=password-changed`);
        const notice = await page.textContent('.notice');
        const otherSession = await request('/api/me', { headers: { cookie: other.cookie } });
        await Promise.all([
          page.waitForURL(`${origin}/login`),
          page.click('form[action="/logout"] button[type="submit"]'),
        ]);
        await page.fill('#username', username);
        await page.fill('#password', password);
        const oldPassword = await submitForm(page, '/login');
        await page.waitForSelector('#password-error');
        await page.fill('#password', newPassword);
        const newLogin = await submitForm(page, '/login');
        await page.waitForURL(`${origin}/`);
        const signedIn = await page.textContent('main');

        expect(wrong.status).toBe(401);
        expect(wrongState).toEqual({
          invalid: 'true',
          describedBy: 'currentPassword-error',
          focused: 'currentPassword',
        });
        expect(changed).toEqual({ status: 303, body: '' });
        expect(notice).toContain('Your other sessions were signed out.');
        expect([otherBefore.status, otherSession.status]).toEqual([200, 401]);
        expect(oldPassword.status).toBe(401);
        expect(newLogin).toEqual({ status: 303, body: '' });
        expect(signedIn).toContain(username);
        await page.close();
      },
    );
  });
});
