import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exec, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { servedCertificate } from '../testkit/certs.ts';
import { httpClient } from '../testkit/http.ts';
import { launchChromium } from './support/chromium.ts';
import { baseUrl, caFile, connectTo, httpsPort, origin, secret, setting } from './support/stack.ts';

/**
 * Issue #19 against a whole stack started with TLS_MODE=acme (ops/ci/test-acme-stack.ts runs it
 * with Pebble as the CA). What the stack gives the suite, besides BASE_URL: SMOKE_CA_FILE (the
 * CA's root, the only one trusted here), SMOKE_CONNECT_TO (where the test name resolves), and
 * shell commands: SMOKE_ACME_METRICS_CMD (the renewer's metrics), SMOKE_ACME_RENEW_CMD (renew
 * now), SMOKE_RESTART_CMD (restart the stack), SMOKE_ACME_ORDERS_CMD (orders the CA has seen),
 * SMOKE_ACME_CA_DOWN_CMD (the CA goes away; run last). Without them the suite is skipped.
 */
const commands = {
  metrics: setting('SMOKE_ACME_METRICS_CMD'),
  renew: setting('SMOKE_ACME_RENEW_CMD'),
  restart: setting('SMOKE_RESTART_CMD'),
  orders: setting('SMOKE_ACME_ORDERS_CMD'),
  caDown: setting('SMOKE_ACME_CA_DOWN_CMD'),
};
const acmeStack = Object.values(commands).every(Boolean);
const host = baseUrl.hostname;
// Asynchronous, so a test's timeout still ends a command that hangs.
const shell = async (command: string | undefined) =>
  (await promisify(exec)(command!, { encoding: 'utf8', shell: '/bin/bash' })).stdout;

/** The sum of a counter's or gauge's samples in the renewer's metrics (0 when absent). */
async function metric(name: string, labels = ''): Promise<number> {
  const pattern = new RegExp(`^${name}(?:\\{[^}]*${labels}[^}]*\\})? (\\S+)$`, 'gm');
  return [...(await shell(commands.metrics)).matchAll(pattern)].reduce((sum, match) => sum + Number(match[1]), 0);
}

/** The serial of the certificate the edge serves right now, on a fresh TLS connection. */
const servedSerial = async () =>
  (await servedCertificate(connectTo ?? host, httpsPort, host)).serialNumber.toUpperCase();

async function eventually<T>(what: string, seconds: number, probe: () => Promise<T | undefined>): Promise<T> {
  for (const deadline = Date.now() + seconds * 1000; Date.now() < deadline;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`${what}: not within ${seconds} s`);
}

/** A login with curl, trusting only the CA's root (no system bundle, no CA directory) or only the system's. */
function curlLogin(trust: 'ca-root' | 'system'): { status: string; error: string } {
  const emptyDir = mkdtempSync(join(tmpdir(), 'authstack-no-cas-'));
  const credentials = JSON.stringify({ username: secret('ADMIN_USERNAME'), password: secret('ADMIN_PASSWORD') });
  const resolve = connectTo ? ['--resolve', `${host}:${httpsPort}:${connectTo}`] : [];
  const cas = trust === 'ca-root' ? ['--cacert', caFile, '--capath', emptyDir] : [];
  const headers = ['-H', 'content-type: application/json', '-H', `origin: ${origin}`];
  // The password on stdin (--data-binary @-), never in argv.
  const args = [...resolve, ...cas, ...headers, '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--data-binary', '@-'];
  try {
    const options = { encoding: 'utf8', input: credentials, stdio: 'pipe' } as const;
    const status = execFileSync('curl', [...args, `${origin}/api/login`], options);
    return { status, error: '' };
  } catch (error) {
    return { status: '', error: String((error as { stderr?: string }).stderr ?? error) };
  } finally {
    rmSync(emptyDir, { recursive: true, force: true });
  }
}

const describeAcme = acmeStack ? describe : describe.skip;

describeAcme('certificates from the ACME CA, through the whole stack', () => {
  const client = () => httpClient({ caFiles: [caFile], connectTo });
  const login = async () => {
    const credentials = { username: secret('ADMIN_USERNAME'), password: secret('ADMIN_PASSWORD') };
    return client().send(`${origin}/api/login`, { headers: { origin }, json: credentials });
  };

  it('when the stack has started, then it serves a certificate from the CA, and curl trusting only that root completes a login (and fails without it)', () => {
    expect(curlLogin('ca-root')).toEqual({ status: '200', error: '' });
    expect(curlLogin('system').error).toMatch(/certificate/i);
  });

  describe('in Chromium', () => {
    // Two HOMEs: one whose NSS database trusts the CA's root, one with none at all.
    const home = mkdtempSync(join(tmpdir(), 'authstack-chromium-home-'));
    const untrusting = mkdtempSync(join(tmpdir(), 'authstack-chromium-home-'));
    afterAll(() => [home, untrusting].forEach((dir) => rmSync(dir, { recursive: true, force: true })));

    beforeAll(() => {
      // Chromium on Linux trusts the user's NSS database: here it holds the CA's root and nothing else.
      const nssdb = join(home, '.pki', 'nssdb');
      mkdirSync(nssdb, { recursive: true });
      execFileSync('certutil', ['-N', '-d', `sql:${nssdb}`, '--empty-password']);
      execFileSync('certutil', ['-A', '-d', `sql:${nssdb}`, '-t', 'C,,', '-n', 'acme-ca-root', '-i', caFile]);
    });

    const browse = async (trusting: boolean, visit: (page: Page) => Promise<void>) => {
      const resolve = connectTo ? [`--host-resolver-rules=MAP ${host} ${connectTo}`] : [];
      // Certificate errors are errors here: trust comes from the NSS database alone.
      const browser = await launchChromium({ args: resolve, trustHome: trusting ? home : untrusting });
      try {
        await visit(await browser.context.newPage());
      } finally {
        await browser.close();
      }
    };

    it('when Chromium trusts only the CA root, then a user signs in through the login form and sees the dashboard', async () => {
      await browse(true, async (page) => {
        await page.goto(`${origin}/login`);
        await page.fill('input[name="username"]', secret('ADMIN_USERNAME'));
        await page.fill('input[name="password"]', secret('ADMIN_PASSWORD'));
        await page.click('form[action="/login"] button[type="submit"]');
        await page.waitForURL(`${origin}/`);
        expect(await page.textContent('body')).toContain(secret('ADMIN_USERNAME'));
      });
    });

    it('when Chromium does not trust the CA root, then the page does not load (the trust above is the root, nothing else)', async () => {
      await browse(false, async (page) => {
        await expect(page.goto(`${origin}/login`)).rejects.toThrow(/ERR_CERT_AUTHORITY_INVALID/);
      });
    });
  });

  it('when a renewal is forced under continuous HTTPS load, then no request fails and the new serial is served', async () => {
    const before = await servedSerial();
    const renewed = await metric('acme_renewals_total', 'outcome="renewed"');
    const { send } = client();
    let stop = false;
    const outcomes: string[] = [];
    // A new connection per request (the client keeps none), so handshakes meet both certificates.
    const worker = async () => {
      while (!stop)
        outcomes.push(
          await send(`${origin}/healthz`).then(
            (r) => String(r.status),
            (e: Error) => e.message,
          ),
        );
    };
    const load = Array.from({ length: 4 }, worker);
    try {
      await shell(commands.renew);
      const after = await eventually('a new serial at the edge', 60, async () => {
        const serial = await servedSerial();
        return serial !== before ? serial : undefined;
      });
      expect(after).not.toBe(before);
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      stop = true;
      await Promise.all(load);
    }
    expect(outcomes.length).toBeGreaterThan(20);
    expect(outcomes.filter((outcome) => outcome !== '200')).toEqual([]);
    expect(await metric('acme_renewals_total', 'outcome="renewed"')).toBe(renewed + 1);
  }, 120_000);

  it('when the stack restarts ten times with a valid certificate (SMOKE_RESTART_CMD: the whole native stack; the renewer container in compose), then the CA sees no new order and the same certificate is served', async () => {
    const orders = Number((await shell(commands.orders)).trim());
    const serial = await servedSerial();
    for (let restart = 0; restart < 10; restart += 1) await shell(commands.restart);
    expect(Number((await shell(commands.orders)).trim())).toBe(orders);
    expect(await servedSerial()).toBe(serial);
    expect((await login()).status).toBe(200);
  }, 300_000);

  it('when the CA is down, then a renewal fails and is counted, and the edge keeps serving the current certificate', async () => {
    const serial = await servedSerial();
    const failures = await metric('acme_renewal_failures_total');
    await shell(commands.caDown);
    await shell(commands.renew);
    await eventually('the failure counted', 60, async () =>
      (await metric('acme_renewal_failures_total')) > failures ? true : undefined,
    );
    expect(await servedSerial()).toBe(serial);
    expect((await login()).status).toBe(200);
  }, 120_000);
});
