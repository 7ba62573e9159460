import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, onTestFinished } from 'vitest';

// Test-only helpers: every run used to leave its temp directories behind in /tmp.

const remove = (dir: string) => rmSync(dir, { recursive: true, force: true });

/** A fresh temp directory for the running test, removed when it finishes, passed or failed. Call inside `it`. */
export function testScratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => remove(dir));
  return dir;
}

/** A fresh temp directory for a whole suite, removed after its last test. Call in a `describe` body. */
export function suiteScratchDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => remove(dir));
  return dir;
}
