import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

// Debian's Chromium, driven by playwright-core (no bundled browser download).
export const CHROMIUM = process.env.SMOKE_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  /** Closes the browser and removes its throwaway profile. */
  close(): Promise<void>;
}

/**
 * Chromium with a throwaway profile. By default it accepts any certificate (the TLS suites check
 * the certificate; these are about pages and redirects); `trustHome` instead makes certificate
 * errors errors, with the trust store of that HOME's NSS database (~/.pki/nssdb) alone.
 */
export async function launchChromium(options: { args?: string[]; trustHome?: string } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'authstack-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    args: [...CHROMIUM_ARGS, ...(options.args ?? [])],
    headless: true,
    ignoreHTTPSErrors: options.trustHome === undefined,
    // Without a HOME of its own, Chromium would read the caller's NSS database.
    env: { ...process.env, HOME: options.trustHome ?? profile },
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
