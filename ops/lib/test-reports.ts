import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../testkit/repo.ts';

/**
 * Every jest run writes its JSON report here (`--json --outputFile`): `npm test` as jest.json,
 * each smoke run under its own name. CI empties the directory first and totals it last, so its
 * final line adds up every suite it ran.
 */
export const TEST_REPORTS_DIR = join(repoRoot, '.run/test-reports');

/** A report file for one more run (`label` says which: smoke-native, smoke-docker, ...). */
export function reportFile(label: string): string {
  mkdirSync(TEST_REPORTS_DIR, { recursive: true });
  return join(TEST_REPORTS_DIR, `${label}-${Date.now()}.json`);
}

export function clearReports(): void {
  rmSync(TEST_REPORTS_DIR, { recursive: true, force: true });
}

/** Passed and failed tests over every report, with one line per report. */
export function totals(): { passed: number; failed: number; lines: string[] } {
  const sum = { passed: 0, failed: 0, lines: [] as string[] };
  const files = existsSync(TEST_REPORTS_DIR) ? readdirSync(TEST_REPORTS_DIR).filter((f) => f.endsWith('.json')) : [];
  for (const file of files.sort()) {
    const report = JSON.parse(readFileSync(join(TEST_REPORTS_DIR, file), 'utf8')) as Record<string, number>;
    const [passed, failed] = [report.numPassedTests!, report.numFailedTests!];
    sum.passed += passed;
    sum.failed += failed;
    sum.lines.push(`  ${file.replace(/\.json$/, '')}: ${passed} passed, ${failed} failed`);
  }
  return sum;
}
