/**
 * What the PromQL check (promql-check.ts) evaluates: the expressions of the Grafana dashboards (Grafana's variables
 * replaced) and of the Prometheus rule files, and the metric names each one reads. No Prometheus here: unit-tested.
 */
import { globSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parser } from '@prometheus-io/lezer-promql';
import { parse as parseYaml } from 'yaml';
import { parseDuration } from '../../service/src/config/setting-types.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { type Json, asArray, asObject, isObject } from '../k8s/schema.ts';

export const DASHBOARD_DIR = join(repoRoot, 'deploy/grafana/dashboards');
export const RULES_DIR = join(repoRoot, 'deploy/prometheus/rules');

/**
 * Panels the smoke tests give data (logins that succeed, fail and get throttled, logouts, sessions, hashing,
 * Prometheus' own scrapes), plus those over metrics the service exports from its first scrape (label-less counters,
 * Redis and process gauges): each must return a series after the smoke tests; any other expression only has to
 * evaluate. `[A]`: that target only (401s and 429s; 5xx: none expected).
 */
export const PANELS_WITH_DATA: readonly string[] = [
  ['Service up', 'Requests/s', '5xx ratio', 'Successful logins/s', 'Redis up', 'Secret fallbacks, last 12 h'],
  ['Request rate by route', 'Latency percentiles by route', '4xx and 5xx rates [A]', 'Login outcomes'],
  ['Throttle refusals by limit', 'Sessions created', 'Sessions revoked by reason', 'Session secret fallback rate'],
  ['Password-hash duration', 'Password-hash rejections', 'Redis up by instance', 'Redis evicted keys'],
  ['Process memory', 'Event-loop lag', 'CPU', 'Forward-auth decisions'],
].flat();
/** Panels that have data in a stack with TLS_MODE=acme, where the renewer and the blackbox exporter are scraped too. */
export const ACME_PANELS_WITH_DATA: readonly string[] = ['TLS certificate lifetime left', 'Certificate renewals'];

export interface QuerySource {
  /** Where it comes from: `authstack.json: Login outcomes [A]`, `authstack.yml: AuthstackDown`. */
  source: string;
  kind: 'panel' | 'variable' | 'alert' | 'record';
  expr: string;
  /** Panel title, variable name, alert or record name; refId: the panel target's. */
  name: string;
  refId?: string;
}

const panelKeys = (q: QuerySource) => (q.kind === 'panel' ? [q.name, `${q.name} [${q.refId}]`] : []);
export const needsData = (query: QuerySource, panels: readonly string[] = PANELS_WITH_DATA) =>
  panelKeys(query).some((key) => panels.includes(key));

const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value : undefined);
/** The objects in `value[key]`, when that is an array. */
const objects = (value: unknown, key: string): Json[] => asArray(asObject(value)[key]).filter(isObject);

/** Every panel: collapsed rows keep theirs in their own `panels`, old (schema < 16) dashboards in `rows[].panels`. */
export function dashboardPanels(dashboard: unknown): Json[] {
  const walk = (panels: Json[]): Json[] => panels.flatMap((panel) => [panel, ...walk(objects(panel, 'panels'))]);
  const rows = objects(dashboard, 'rows').flatMap((row) => walk(objects(row, 'panels')));
  return [...walk(objects(dashboard, 'panels')), ...rows];
}

/**
 * The PromQL of a query variable: the selector of `label_values(<selector>, label)`, the expression of
 * `query_result(<expr>)`. `label_names()`, `label_values(label)` and `metrics(regex)` have none.
 */
export function variableExpr(query: string): string | undefined {
  const call = /^\s*(?:label_values\s*\(([\s\S]*),\s*\w+\s*|query_result\s*\(([\s\S]*))\)\s*$/.exec(query);
  return text(call?.[1] ?? call?.[2])?.trim();
}

/** Every PromQL expression of a dashboard: each panel target's `expr`, and each query variable's. */
export function dashboardQueries(dashboard: unknown, file: string): QuerySource[] {
  if (!isObject(dashboard)) throw new Error(`${file}: not a dashboard (expected a JSON object)`);
  const panels = dashboardPanels(dashboard).flatMap((panel) => {
    const name = text(panel.title) ?? `panel ${String(panel.id)}`;
    return objects(panel, 'targets').flatMap((target): QuerySource[] => {
      const [expr, refId] = [text(target.expr), text(target.refId) ?? '?'];
      return expr ? [{ source: `${file}: ${name} [${refId}]`, kind: 'panel', expr, name, refId }] : [];
    });
  });
  const variables = objects(dashboard.templating, 'list').flatMap((variable): QuerySource[] => {
    const query = isObject(variable.query) ? variable.query.query : variable.query;
    const expr = variable.type === 'query' && typeof query === 'string' ? variableExpr(query) : undefined;
    const name = text(variable.name) ?? '?';
    return expr ? [{ source: `${file}: variable $${name}`, kind: 'variable', expr, name }] : [];
  });
  return [...panels, ...variables];
}

const rulesOf = (ruleFile: unknown) => objects(ruleFile, 'groups').flatMap((group) => objects(group, 'rules'));

/** Every alert and recording rule expression of a Prometheus rule file (already parsed). */
export function ruleQueries(ruleFile: unknown, file: string): QuerySource[] {
  if (!isObject(ruleFile)) throw new Error(`${file}: not a rule file (expected groups:)`);
  return rulesOf(ruleFile).flatMap((rule): QuerySource[] => {
    const [expr, name] = [text(rule.expr), text(rule.alert) ?? text(rule.record)];
    const kind = text(rule.alert) ? 'alert' : 'record';
    return expr && name ? [{ source: `${file}: ${name}`, kind, expr: expr.trim(), name }] : [];
  });
}

/** Names that recording rules write: series an expression may read that the service does not export. */
export const recordedNames = (ruleFile: unknown) => rulesOf(ruleFile).flatMap((rule) => text(rule.record) ?? []);

export const filesIn = (dir: string, extension: string): string[] =>
  Array.from(globSync(`*${extension}`, { cwd: dir }), (name) => join(dir, name)).sort();

/** Reads the dashboards and rule files; `promql`: each expression ready to send, Grafana's variables replaced. */
export function loadQueries() {
  const ruleFiles = filesIn(RULES_DIR, '.yml');
  const rules = ruleFiles.map((file): unknown => parseYaml(readFileSync(file, 'utf8')));
  const queries: Array<QuerySource & { promql: string }> = [
    ...filesIn(DASHBOARD_DIR, '.json').flatMap((file) => {
      const dashboard: unknown = JSON.parse(readFileSync(file, 'utf8'));
      const variables = { ...dashboardVariables(dashboard), ...builtinVariables() };
      const queries = dashboardQueries(dashboard, basename(file));
      return queries.map((q) => ({ ...q, promql: substituteVariables(q.expr, variables) }));
    }),
    ...rules.flatMap((rule, i) => ruleQueries(rule, basename(ruleFiles[i]!)).map((q) => ({ ...q, promql: q.expr }))),
  ];
  const missingPanels = PANELS_WITH_DATA.filter((panel) => !queries.some((q) => panelKeys(q).includes(panel)));
  return { queries, recorded: rules.flatMap(recordedNames), missingPanels };
}

/**
 * What $__rate_interval, $__interval and $__range stand for outside Grafana. Default: a one-hour view over the 15 s
 * scrape interval of deploy/prometheus/prometheus.yml ($__rate_interval: max($__interval + scrape, 4 × scrape)).
 */
export function builtinVariables(
  { rateInterval, interval, range } = { rateInterval: '1m', interval: '15s', range: '1h' },
) {
  const ms = (name: string, duration: string) => {
    // Prometheus' units; it has no fractions.
    const units = ['ms', 's', 'm', 'h', 'd', 'w', 'y'] as const;
    const value = duration.includes('.') ? undefined : parseDuration(duration, { units });
    if (value === undefined) throw new Error(`${name}: '${duration}' is not a Prometheus duration`);
    return value;
  };
  const rangeMs = ms('range', range);
  return {
    __rate_interval: rateInterval,
    __rate_interval_ms: `${ms('rateInterval', rateInterval)}`,
    __interval: interval,
    __interval_ms: `${ms('interval', interval)}`,
    __range: range,
    __range_s: `${Math.round(rangeMs / 1000)}`,
    __range_ms: `${rangeMs}`,
  };
}

/**
 * The values a dashboard's own variables take for the check: "All" (allValue, else `.*`, which every `=~"$var"`
 * matcher accepts) where All is offered, else the current value, else a constant's or text box's value, else the
 * first option.
 */
export function dashboardVariables(dashboard: unknown): Record<string, string> {
  const values: Record<string, string> = {};
  for (const variable of objects(asObject(dashboard).templating, 'list')) {
    const name = text(variable.name);
    if (!name) continue;
    const current: unknown = [asObject(variable.current).value].flat()[0];
    const constant = variable.type === 'constant' || variable.type === 'textbox' ? variable.query : undefined;
    const candidates = [current === '$__all' ? undefined : current, constant, objects(variable, 'options')[0]?.value];
    if (variable.includeAll === true) values[name] = text(variable.allValue) ?? '.*';
    else values[name] = candidates.find((value): value is string => typeof value === 'string') ?? '.*';
  }
  return values;
}

/**
 * Replaces Grafana variables (`$name`, `${name}`, `${name:format}`, `[[name]]`). A `$__` built-in not in the map is
 * an error (the check cannot guess what Grafana would put there); any other unknown `$name` stays as written, as
 * Grafana leaves it (it may be a `$1` in a label_replace replacement).
 */
export function substituteVariables(expr: string, variables: Record<string, string>): string {
  const pattern = /\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)/g;
  return expr.replace(pattern, (whole, braced?: string, bracketed?: string, bare?: string) => {
    const name = (braced ?? bracketed ?? bare)!;
    if (variables[name] !== undefined) return variables[name];
    if (name.startsWith('__')) throw new Error(`unsupported Grafana variable ${whole} in: ${expr}`);
    return whole;
  });
}

type SyntaxNode = ReturnType<typeof parser.parse>['topNode'];

/** Every node of an expression's syntax tree, by Prometheus' own PromQL grammar. */
function syntaxNodes(expr: string): SyntaxNode[] {
  const nodes: SyntaxNode[] = [];
  parser.parse(expr).iterate({ enter: (ref) => void nodes.push(ref.node) });
  return nodes;
}

const textOf = (expr: string, node: SyntaxNode | null) => (node ? expr.slice(node.from, node.to) : undefined);
/** A string literal's value: backquoted strings are raw, in the others an escape stands for the escaped character. */
const stringValue = (literal: string) =>
  literal[0] === '`' ? literal.slice(1, -1) : literal.slice(1, -1).replace(/\\(.)/gs, '$1');
/** Whether a string literal lacks its closing quote (`"a\\"` does; backquoted strings have no escapes). */
const isUnclosed = (literal: string) =>
  !(literal[0] === '`' ? literal : literal.replace(/\\./gs, '')).slice(1).endsWith(literal[0]!);

/** Why an expression does not parse (caught before any Prometheus sees it), or undefined when it does. */
export function syntaxError(expr: string, nodes = syntaxNodes(expr)): string | undefined {
  for (const node of nodes) {
    const at = `at character ${node.from + 1}`;
    // The grammar takes an unclosed string to the end of the line without an error of its own.
    if (node.name === 'StringLiteral' && isUnclosed(textOf(expr, node)!)) return `unterminated string ${at}`;
    if (!node.type.isError) continue;
    // The parser recovers by marking what it skipped or missed: point at where that starts.
    const rest = expr.slice(node.from).trim();
    return rest ? `syntax error ${at}, near '${rest.slice(0, 30)}'` : 'syntax error: unexpected end of expression';
  }
  return undefined;
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
 * The metric names an expression reads, in order, each once: the vector selectors of its syntax tree (functions,
 * label names, strings and durations are nodes of other types). Throws, naming the expression, when it does not parse.
 */
export function metricNames(expr: string): string[] {
  const nodes = syntaxNodes(expr);
  const problem = syntaxError(expr, nodes);
  if (problem !== undefined) throw new Error(`${problem} in: ${expr}`);
  return [...new Set(nodes.flatMap((node) => selectedMetric(expr, node) ?? []))];
}

/** What the blackbox exporter's TLS probe of the edge exports (job tls-edge, rules/certificates.yml). */
export const BLACKBOX_SERIES = ['probe_success', 'probe_duration_seconds', 'probe_ssl_earliest_cert_expiry'];
/** Series Prometheus itself writes for every target (scrape_*) and for alerting rules. */
const SCRAPE_SERIES = ['duration_seconds', 'samples_scraped', 'samples_post_metric_relabeling', 'series_added'];
export const PROMETHEUS_SERIES = ['up', 'ALERTS', 'ALERTS_FOR_STATE', ...SCRAPE_SERIES.map((name) => `scrape_${name}`)];

const HISTOGRAM = ['_bucket', '_sum', '_count', '_created'];
const SUMMARY = ['', '_sum', '_count', '_created'];
const SUFFIXES: Record<string, string[]> = { histogram: HISTOGRAM, gaugehistogram: HISTOGRAM, summary: SUMMARY };

/**
 * The series names a target exports, from its metadata (name → type, as /api/v1/metadata reports the `# TYPE`
 * lines, also for metrics without a sample yet): a histogram is its `_bucket`, `_sum` and `_count` series
 * (`_created` in OpenMetrics), a summary its own name plus `_sum` and `_count`.
 */
export const exportedSeriesNames = (metadata: Record<string, string>): Set<string> =>
  new Set(Object.entries(metadata).flatMap(([name, type]) => (SUFFIXES[type] ?? ['']).map((suffix) => name + suffix)));

/** The names an expression reads that are not in `known`, with a hint for a bare histogram name. */
export function unknownMetrics(expr: string, known: ReadonlySet<string>, metadata: Record<string, string>): string[] {
  const hint = (name: string) =>
    metadata[name] === 'histogram' ? ` (a histogram: read ${name}_bucket, _sum or _count)` : '';
  return metricNames(expr).flatMap((name) => (known.has(name) ? [] : [name + hint(name)]));
}
