import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from '@jest/globals';

// Test-only helpers: every run used to leave its temp directories behind in /tmp.

const remove = (dir: string) => rmSync(dir, { recursive: true, force: true });

/** Directories made by the running test; importing this module registers their removal after each test. */
const perTest: string[] = [];
afterEach(() => {
  for (const dir of perTest.splice(0)) remove(dir);
});

/** A fresh temp directory for the running test, removed when it finishes, passed or failed. Call inside `it`. */
export function testScratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  perTest.push(dir);
  return dir;
}

/**
 * A fresh temp directory for a whole suite, removed after its last test. Call in a `describe`
 * body, after declaring any afterAll that still needs the directory (jest runs them in order).
 */
export function suiteScratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => remove(dir));
  return dir;
}
