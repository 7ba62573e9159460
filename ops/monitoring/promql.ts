/**
 * The pure half of the PromQL check (promql-check.ts): which expressions the Grafana dashboards
 * and the Prometheus rule files hold, what Grafana's variables stand for, and which metric names
 * an expression reads. No I/O here, so all of it is unit-tested (promql.test.ts).
 */

import { parseDuration } from '../../service/src/config/config.ts';
import { parser } from '@prometheus-io/lezer-promql';

/** One expression and where it came from, for the table and for the panels that need data. */
export interface QuerySource {
  /** Human-readable origin: `authstack.json: Login outcomes [A]`, `authstack.yml: AuthstackDown`. */
  source: string;
  kind: 'panel' | 'variable' | 'alert' | 'record';
  expr: string;
  /** The dashboard's title (dashboards) or the rule group (rules). */
  container: string;
  /** Panel title (panels), variable name, alert or record name. */
  name: string;
  /** Target refId (panels only). */
  refId?: string;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
const arrayOf = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value : undefined);

/**
 * Every panel of a dashboard, rows included: an expanded row's panels follow it at the top
 * level, a collapsed row keeps them in its own `panels`, and old (schema < 16) dashboards keep
 * them in `rows[].panels`. Library panels and nested rows are walked the same way.
 */
export function dashboardPanels(dashboard: unknown): Json[] {
  const found: Json[] = [];
  const walk = (panels: unknown) => {
    for (const panel of arrayOf(panels)) {
      if (!isObject(panel)) continue;
      found.push(panel);
      walk(panel.panels);
    }
  };
  if (isObject(dashboard)) {
    walk(dashboard.panels);
    for (const row of arrayOf(dashboard.rows)) if (isObject(row)) walk(row.panels);
  }
  return found;
}

/**
 * The PromQL of a query variable, when it has one: `label_values(<selector>, label)` reads the
 * selector's metric, `query_result(<expr>)` evaluates an expression. `label_names()`,
 * `label_values(label)` and `metrics(regex)` name no metric and give none.
 */
export function variableExpr(query: string): string | undefined {
  const trimmed = query.trim();
  const call = /^(label_values|query_result)\s*\(([\s\S]*)\)$/.exec(trimmed);
  if (!call) return undefined;
  const [, fn, inner = ''] = call;
  if (fn === 'query_result') return text(inner)?.trim();
  // label_values(selector, label): the selector is everything before the last top-level comma.
  let depth = 0;
  let quote: string | undefined;
  let lastComma = -1;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'" || c === '`') quote = c;
    else if ('({['.includes(c)) depth++;
    else if (')}]'.includes(c)) depth--;
    else if (c === ',' && depth === 0) lastComma = i;
  }
  return lastComma < 0 ? undefined : text(inner.slice(0, lastComma))?.trim();
}

/** Every PromQL expression of a dashboard: each panel target's `expr`, and each query variable's. */
export function dashboardQueries(dashboard: unknown, file: string): QuerySource[] {
  if (!isObject(dashboard)) throw new Error(`${file}: not a dashboard (expected a JSON object)`);
  const title = text(dashboard.title) ?? file;
  const queries: QuerySource[] = [];
  for (const panel of dashboardPanels(dashboard)) {
    const panelTitle = text(panel.title) ?? `panel ${String(panel.id)}`;
    for (const target of arrayOf(panel.targets)) {
      if (!isObject(target)) continue;
      const expr = text(target.expr);
      if (!expr) continue;
      const refId = text(target.refId) ?? '?';
      queries.push({ source: `${file}: ${panelTitle} [${refId}]`, kind: 'panel', expr, container: title, name: panelTitle, refId });
    }
  }
  const templating = isObject(dashboard.templating) ? dashboard.templating : {};
  for (const variable of arrayOf(templating.list)) {
    if (!isObject(variable) || variable.type !== 'query') continue;
    const query = isObject(variable.query) ? text(variable.query.query) : text(variable.query);
    const expr = query === undefined ? undefined : variableExpr(query);
    if (!expr) continue;
    const name = text(variable.name) ?? '?';
    queries.push({ source: `${file}: variable $${name}`, kind: 'variable', expr, container: title, name });
  }
  return queries;
}

/** Every alert and recording rule expression of a Prometheus rule file (already parsed). */
export function ruleQueries(ruleFile: unknown, file: string): QuerySource[] {
  if (!isObject(ruleFile)) throw new Error(`${file}: not a rule file (expected groups:)`);
  const queries: QuerySource[] = [];
  for (const group of arrayOf(ruleFile.groups)) {
    if (!isObject(group)) continue;
    const groupName = text(group.name) ?? '?';
    for (const rule of arrayOf(group.rules)) {
      if (!isObject(rule)) continue;
      const expr = text(rule.expr);
      const alert = text(rule.alert);
      const record = text(rule.record);
      if (!expr || (!alert && !record)) continue;
      const name = (alert ?? record)!;
      queries.push({ source: `${file}: ${name}`, kind: alert ? 'alert' : 'record', expr: expr.trim(), container: groupName, name });
    }
  }
  return queries;
}

/** Names that recording rules write: series an expression may read without the service exporting them. */
export function recordedNames(ruleFile: unknown): string[] {
  if (!isObject(ruleFile)) return [];
  return arrayOf(ruleFile.groups).flatMap((group) =>
    isObject(group) ? arrayOf(group.rules).flatMap((rule) => (isObject(rule) && text(rule.record) ? [rule.record as string] : [])) : [],
  );
}

// --- Grafana variables ------------------------------------------------------------------------

/** What Grafana's interval variables stand for when an expression is evaluated outside Grafana. */
export interface GrafanaIntervals {
  /** $__rate_interval: Grafana's max($__interval + scrape interval, 4 × scrape interval). */
  rateInterval: string;
  /** $__interval: the time range divided by the panel's width in points. */
  interval: string;
  /** $__range: the dashboard's time range. */
  range: string;
}

/** A one-hour view over a 15 s scrape interval (deploy/prometheus/prometheus.yml). */
export const DEFAULT_INTERVALS: GrafanaIntervals = { rateInterval: '1m', interval: '15s', range: '1h' };

/** A Prometheus duration (`90s`, `1h30m`, `500ms`) in seconds; undefined when it is not one. */
export function durationSeconds(duration: string): number | undefined {
  const ms = /\./.test(duration) ? undefined : parseDuration(duration);
  return ms === undefined ? undefined : ms / 1000;
}

/** Grafana's built-in variables (the ones a PromQL expression can use) for the given intervals. */
export function builtinVariables(intervals: GrafanaIntervals = DEFAULT_INTERVALS): Record<string, string> {
  const seconds = (name: keyof GrafanaIntervals) => {
    const value = durationSeconds(intervals[name]);
    if (value === undefined) throw new Error(`${name}: '${intervals[name]}' is not a Prometheus duration`);
    return value;
  };
  return {
    __rate_interval: intervals.rateInterval,
    __rate_interval_ms: String(Math.round(seconds('rateInterval') * 1000)),
    __interval: intervals.interval,
    __interval_ms: String(Math.round(seconds('interval') * 1000)),
    __range: intervals.range,
    __range_s: String(Math.round(seconds('range'))),
    __range_ms: String(Math.round(seconds('range') * 1000)),
  };
}

/**
 * The values a dashboard's own variables take for the check: "All" (allValue, else `.*`, which
 * every label matcher the dashboard writes as `=~"$var"` accepts) where All is offered, else the
 * current value, else the first option. Constants and text boxes keep their value.
 */
export function dashboardVariables(dashboard: unknown): Record<string, string> {
  const values: Record<string, string> = {};
  if (!isObject(dashboard) || !isObject(dashboard.templating)) return values;
  for (const variable of arrayOf(dashboard.templating.list)) {
    if (!isObject(variable)) continue;
    const name = text(variable.name);
    if (!name) continue;
    const current = isObject(variable.current) ? variable.current.value : undefined;
    const currentValue: unknown = Array.isArray(current) ? (current as unknown[])[0] : current;
    const firstOption = arrayOf(variable.options).find(isObject)?.value;
    if (variable.includeAll === true) values[name] = text(variable.allValue) ?? '.*';
    else if (typeof currentValue === 'string' && currentValue !== '$__all') values[name] = currentValue;
    else if (typeof variable.query === 'string' && (variable.type === 'constant' || variable.type === 'textbox')) values[name] = variable.query;
    else if (typeof firstOption === 'string') values[name] = firstOption;
    else values[name] = '.*';
  }
  return values;
}

/**
 * Replaces Grafana variables (`$name`, `${name}`, `${name:format}`, `[[name]]`) with the given
 * values. A `$__` built-in that is not in the map is an error (Grafana would substitute it, the
 * check cannot guess how); any other unknown `$name` stays as written, as Grafana leaves it (it
 * may be a `$1` in a label_replace replacement).
 */
export function substituteVariables(expr: string, variables: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)/g, (whole, braced?: string, bracketed?: string, bare?: string) => {
    const name = (braced ?? bracketed ?? bare)!;
    const value = variables[name];
    if (value !== undefined) return value;
    if (name.startsWith('__')) throw new Error(`unsupported Grafana variable ${whole} in: ${expr}`);
    return whole;
  });
}

// --- metric names -----------------------------------------------------------------------------

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

/** Every node of an expression's syntax tree, in document order, by Prometheus' own PromQL grammar. */
function syntaxNodes(expr: string): SyntaxNode[] {
  const nodes: SyntaxNode[] = [];
  const walk = (node: SyntaxNode) => {
    for (let child = node.firstChild; child; child = child.nextSibling) {
      nodes.push(child);
      walk(child);
    }
  };
  walk(parser.parse(expr).topNode);
  return nodes;
}

const textOf = (expr: string, node: SyntaxNode | null) => (node ? expr.slice(node.from, node.to) : undefined);

/**
 * Whether a string literal has its closing quote. The grammar takes an unclosed string to the
 * end of the line without an error of its own, so this is checked here (escapes are skipped:
 * `"a\"` is unclosed; backquoted strings have none).
 */
function isClosedString(literal: string): boolean {
  const quote = literal[0]!;
  const rest = literal.slice(1);
  return (quote === '`' ? rest : rest.replace(/\\./gs, '')).endsWith(quote);
}

/** The first sign in the tree that the expression does not parse: an error node (⚠) or an unclosed string. */
function firstSyntaxError(expr: string, nodes: SyntaxNode[]): string | undefined {
  for (const node of nodes) {
    const at = `at character ${node.from + 1}`;
    if (node.name === 'StringLiteral' && !isClosedString(textOf(expr, node)!)) return `unterminated string ${at}`;
    if (!node.type.isError) continue;
    // The parser recovers by marking what it skipped or missed: point at where that starts.
    const rest = expr.slice(node.from).trim();
    if (rest === '') return 'syntax error: unexpected end of expression';
    return `syntax error ${at}, near '${rest.slice(0, 30)}'`;
  }
  return undefined;
}

/** Why an expression does not parse, or undefined when it does: caught offline, before any Prometheus sees it. */
export function syntaxError(expr: string): string | undefined {
  return firstSyntaxError(expr, syntaxNodes(expr));
}

/**
 * A string literal's value. Backquoted strings are raw; in the others an escape stands for the
 * character it escapes, which is exact for metric names (they hold no control characters).
 */
function stringValue(literal: string): string {
  const body = literal.slice(1, -1);
  return literal.startsWith('`') ? body : body.replace(/\\(.)/gs, '$1');
}

/** The metric a vector selector's node names: its identifier, a `{"utf8.name"}`, or an exact `__name__` matcher. */
function selectedMetric(expr: string, node: SyntaxNode): string | undefined {
  const parent = node.parent?.name;
  if (node.name === 'Identifier' && parent === 'VectorSelector') return textOf(expr, node);
  if (node.name === 'QuotedLabelName' && parent === 'LabelMatchers') return stringValue(textOf(expr, node)!);
  let label: string | undefined;
  if (node.name === 'UnquotedLabelMatcher') label = textOf(expr, node.getChild('LabelName'));
  if (node.name === 'QuotedLabelMatcher') label = stringValue(textOf(expr, node.getChild('QuotedLabelName')) ?? '""');
  // Only `=` names one metric; `=~`, `!=` and `!~` select by pattern or by exclusion.
  if (label !== '__name__' || !node.getChild('MatchOp')?.getChild('EqlSingle')) return undefined;
  const value = textOf(expr, node.getChild('StringLiteral'));
  return value === undefined ? undefined : stringValue(value);
}

/**
 * The metric names an expression reads, in order of appearance, each once: the vector selectors
 * of its syntax tree (`foo`, `foo{...}`, `foo[5m]`, `{__name__="foo"}`). Functions, aggregations,
 * keywords, label names, strings, numbers and durations are nodes of other types. Throws when the
 * expression does not parse (see syntaxError), naming the expression.
 */
export function metricNames(expr: string): string[] {
  const nodes = syntaxNodes(expr);
  const problem = firstSyntaxError(expr, nodes);
  if (problem !== undefined) throw new Error(`${problem} in: ${expr}`);
  const names = new Set<string>();
  for (const node of nodes) {
    const name = selectedMetric(expr, node);
    if (name !== undefined) names.add(name);
  }
  return [...names];
}

// --- exported names ---------------------------------------------------------------------------

/** Series Prometheus itself writes for every target and for alerting rules. */
export const PROMETHEUS_SERIES = [
  'up',
  'scrape_duration_seconds',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
  'ALERTS',
  'ALERTS_FOR_STATE',
] as const;

/**
 * The series names a target exports, from its metric metadata (name → type, as Prometheus'
 * /api/v1/metadata reports the `# TYPE` lines, also for metrics that have no sample yet): a
 * histogram is its `_bucket`, `_sum` and `_count` series (and `_created` in OpenMetrics), a
 * summary its quantiles under its own name plus `_sum` and `_count`.
 */
export function exportedSeriesNames(metadata: Record<string, string>): Set<string> {
  const names = new Set<string>();
  for (const [name, type] of Object.entries(metadata)) {
    if (type === 'histogram' || type === 'gaugehistogram') for (const suffix of ['_bucket', '_sum', '_count', '_created']) names.add(`${name}${suffix}`);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count', '_created']) names.add(`${name}${suffix}`);
    else names.add(name);
  }
  return names;
}

/** The names an expression reads that are not in `known`, each with a hint when it is a near miss. */
export function unknownMetrics(expr: string, known: ReadonlySet<string>, metadata: Record<string, string> = {}): string[] {
  return metricNames(expr)
    .filter((name) => !known.has(name))
    .map((name) => {
      const type = metadata[name];
      if (type === 'histogram') return `${name} (a histogram: read ${name}_bucket, _sum or _count)`;
      return name;
    });
}
