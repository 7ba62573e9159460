import axe from 'axe-core';
import type { Page } from 'playwright-core';

/** WCAG 2.0 and 2.1, levels A and AA: the rules a finding here is a failure against. */
export const WCAG_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

// The parts of axe's results read here (axe-core's own types need the DOM library, which this
// project compiles without).
interface AxeNode {
  target: unknown[];
  failureSummary?: string;
}
interface AxeRule {
  id: string;
  impact?: string | null;
  help: string;
  helpUrl: string;
  nodes: AxeNode[];
}
interface AxeResults {
  url: string;
  passes: AxeRule[];
  violations: AxeRule[];
  incomplete: AxeRule[];
}

export interface AxeReport {
  /** One readable paragraph per violated rule: impact, rule, help, and each offending element. */
  violations: string[];
  /** Rules axe could not decide (e.g. contrast over a mixed colour): ids, to review by hand. */
  incomplete: string[];
  passed: number;
}

/**
 * Runs axe-core in the page as it is. The source goes in through page.evaluate (the DevTools
 * protocol), which the page's Content-Security-Policy does not govern: the CSP under test stays
 * exactly as the service sends it (no bypassCSP, no inline script tag).
 */
export async function checkAccessibility(page: Page): Promise<AxeReport> {
  if (!(await page.evaluate<boolean>('typeof window.axe === "object"'))) await page.evaluate(axe.source);
  const options = { runOnly: { type: 'tag', values: WCAG_TAGS }, resultTypes: ['violations', 'incomplete'] };
  const results = await page.evaluate<AxeResults>(`axe.run(document, ${JSON.stringify(options)})`);
  return {
    violations: results.violations.map(describeRule),
    incomplete: results.incomplete.map((rule) => rule.id),
    passed: results.passes.length,
  };
}

function describeRule(rule: AxeRule): string {
  const nodes = rule.nodes.map(
    (node) => `  - ${node.target.join(' ')}: ${(node.failureSummary ?? '').replace(/\s*\n\s*/g, ' ')}`,
  );
  return [`[${rule.impact ?? 'unknown'}] ${rule.id}: ${rule.help} (${rule.helpUrl})`, ...nodes].join('\n');
}
