import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { screenshotsDir } from './stack.ts';

/** One fixed size, so a screenshot changes only when the page does. */
export const SCREENSHOT_VIEWPORT = { width: 1000, height: 700 };

/**
 * Writes `<name>.png` into SMOKE_SCREENSHOTS_DIR (stack.ts), if set, at the fixed viewport.
 * Returns the path written, or undefined when screenshots are off.
 */
export async function saveScreenshot(page: Page, name: string): Promise<string | undefined> {
  if (!screenshotsDir) return undefined;
  mkdirSync(screenshotsDir, { recursive: true });
  const path = join(screenshotsDir, `${name}.png`);
  await page.setViewportSize(SCREENSHOT_VIEWPORT);
  await page.screenshot({ path, animations: 'disabled', caret: 'hide' });
  return path;
}

/**
 * Run in the dashboard before its screenshot: what differs per run (the username, the times, the
 * address and the browser of each session) becomes fixed sample values, so the image stays the
 * same from run to run and shows the defaults (30 minutes idle, 12 hours at most). A string,
 * because this project compiles without DOM types.
 */
export const DASHBOARD_SAMPLE_VALUES = `
  document.querySelector('.username').textContent = 'alice';
  const times = ['2025-06-02 09:00:00 UTC', '2025-06-02 09:30:00 UTC', '2025-06-02 21:00:00 UTC'];
  document.querySelectorAll('.times time').forEach((time, i) => { time.textContent = times[i]; });
  document.querySelectorAll('table.sessions tbody tr').forEach((row) => {
    const cells = row.querySelectorAll('td');
    cells[0].textContent = '192.0.2.10';
    cells[1].textContent = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/140';
    cells[2].textContent = times[0];
    cells[3].textContent = times[0];
  });
`;
