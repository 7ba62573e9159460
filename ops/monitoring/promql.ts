/**
 * The pure half of the PromQL check (promql-check.ts): which expressions the Grafana dashboards
 * and the Prometheus rule files hold, what Grafana's variables stand for, and which metric names
 * an expression reads. No I/O here, so all of it is unit-tested (promql.test.ts).
 */

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

const DURATION_UNITS_S: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_536_000 };

/** A Prometheus duration (`90s`, `1h30m`, `500ms`) in seconds; undefined when it is not one. */
export function durationSeconds(duration: string): number | undefined {
  if (!/^(?:\d+(?:ms|s|m|h|d|w|y))+$/.test(duration)) return undefined;
  let total = 0;
  for (const [, value, unit] of duration.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)) total += Number(value) * DURATION_UNITS_S[unit!]!;
  return total;
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

type Token = { kind: 'ident' | 'string' | 'number' | 'punct' | 'op'; value: string };

/** PromQL's lexical structure, enough to tell metric names from everything else. */
export function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === '#') {
      // a comment runs to the end of the line
      while (i < expr.length && expr[i] !== '\n') i++;
    } else if (c === '"' || c === "'" || c === '`') {
      let j = i + 1;
      let value = '';
      while (j < expr.length && expr[j] !== c) {
        if (expr[j] === '\\' && c !== '`') j++;
        value += expr[j] ?? '';
        j++;
      }
      if (j >= expr.length) throw new Error(`unterminated string in: ${expr}`);
      tokens.push({ kind: 'string', value });
      i = j + 1;
    } else if ('{}()[],'.includes(c)) {
      tokens.push({ kind: 'punct', value: c });
      i++;
    } else {
      const rest = expr.slice(i);
      // Numbers and durations: 0.5, 1e-3, 0x1F, 5m, 1h30m, .5 (and the durations of ranges).
      const number = /^(?:0x[0-9a-f]+|(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)[a-z0-9]*/i.exec(rest);
      const ident = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(rest);
      if (number) {
        tokens.push({ kind: 'number', value: number[0] });
        i += number[0].length;
      } else if (ident) {
        tokens.push({ kind: 'ident', value: ident[0] });
        i += ident[0].length;
      } else {
        const op = /^(?:=~|!~|!=|==|>=|<=|[-+*/%^=<>@:])/.exec(rest);
        if (!op) throw new Error(`unexpected '${c}' in: ${expr}`);
        tokens.push({ kind: 'op', value: op[0] });
        i += op[0].length;
      }
    }
  }
  return tokens;
}

/** Words of the language that are not metric names where they stand alone. */
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'inf', 'nan']);
/** Keywords followed by a parenthesised list of label names. */
const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

/**
 * The metric names an expression reads, in order of appearance, each once: identifiers that
 * stand as vector selectors (`foo`, `foo{...}`, `foo[5m]`, `foo offset 1h`) and `__name__="foo"`
 * matchers. Not names: functions and aggregations (an identifier followed by `(`, or by
 * `by`/`without`), keywords, label names (inside `{}` and the lists after by, without, on,
 * ignoring, group_left, group_right), strings, numbers, durations and subquery ranges.
 */
export function metricNames(expr: string): string[] {
  const tokens = tokenize(expr);
  const names: string[] = [];
  const add = (name: string) => {
    if (!names.includes(name)) names.push(name);
  };
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    const next = tokens[i + 1];
    if (token.kind === 'punct' && token.value === '{') {
      // Label matchers: only __name__="x" names a metric.
      let j = i + 1;
      while (j < tokens.length && tokens[j]!.value !== '}') {
        const [label, op, value] = [tokens[j], tokens[j + 1], tokens[j + 2]];
        if (label?.kind === 'ident' && label.value === '__name__' && op?.value === '=' && value?.kind === 'string') add(value.value);
        j++;
      }
      i = j;
    } else if (token.kind === 'punct' && token.value === '[') {
      // A range or subquery: durations and a colon, nothing else.
      let j = i + 1;
      while (j < tokens.length && tokens[j]!.value !== ']') j++;
      i = j;
    } else if (token.kind === 'ident') {
      const word = token.value.toLowerCase();
      if (LABEL_LISTS.has(word) && next?.value === '(') {
        let j = i + 2;
        while (j < tokens.length && tokens[j]!.value !== ')') j++;
        i = j;
      } else if (KEYWORDS.has(word)) {
        continue;
      } else if (next?.value === '(') {
        continue; // a function or an aggregation: sum(...), rate(...), vector(0)
      } else if (next?.kind === 'ident' && (next.value.toLowerCase() === 'by' || next.value.toLowerCase() === 'without')) {
        continue; // an aggregation with its clause first: sum by (le) (...)
      } else if (tokens[i - 1]?.value === '@' && (word === 'start' || word === 'end')) {
        continue;
      } else {
        add(token.value);
      }
    }
  }
  return names;
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
