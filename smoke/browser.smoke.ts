import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type ConsoleMessage } from 'playwright-core';
import { origin, secret } from './support/stack.ts';

// Debian's Chromium, driven by playwright-core (no bundled browser download).
const CHROMIUM = process.env.SMOKE_CHROMIUM ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// Runs in every page before its own scripts: records each CSP violation the page reports.
// A string, because this project compiles without DOM types.
const RECORD_CSP_VIOLATIONS = `
  window.cspViolations = [];
  document.addEventListener('securitypolicyviolation', (event) => {
    window.cspViolations.push(event.violatedDirective + ' ' + event.blockedURI);
  });
`;

describe('a real browser', () => {
  let profile: string;
  let context: BrowserContext;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    profile = mkdtempSync(join(tmpdir(), 'authstack-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: CHROMIUM_ARGS,
      headless: true,
      // Chromium keeps its own trust store; the certificate itself is checked by the other suites.
      ignoreHTTPSErrors: true,
    });
    await context.addInitScript({ content: RECORD_CSP_VIOLATIONS });
    context.on('console', (message: ConsoleMessage) => {
      if (message.type() === 'error') consoleErrors.push(message.text());
    });
  });

  afterAll(async () => {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  });

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
    expect({ status: loginPost.status(), body: loginPost.status() === 303 ? '' : await loginPost.text() }).toEqual({ status: 303, body: '' });
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
});
