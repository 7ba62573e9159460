import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { parse as parseYaml } from 'yaml';
import { readEnvFile } from '../../testkit/env-file.ts';
import { CliError, say } from '../lib/log.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { writeSecretFiles } from '../lib/secrets.ts';
import {
  DEFAULT_INTERVALS,
  PROMETHEUS_SERIES,
  builtinVariables,
  dashboardQueries,
  dashboardVariables,
  exportedSeriesNames,
  metricNames,
  recordedNames,
  ruleQueries,
  substituteVariables,
  unknownMetrics,
  type GrafanaIntervals,
  type QuerySource,
} from './promql.ts';
import { TempPrometheus, type ScrapeTarget } from './prometheus.ts';

const log = (message: string) => say('promql-check', message);

export const DASHBOARD_DIR = join(repoRoot, 'deploy/grafana/dashboards');
export const RULES_DIR = join(repoRoot, 'deploy/prometheus/rules');

/**
 * Panels the smoke tests give data (logins that succeed, fail and get throttled, logouts,
 * sessions, hashing, Prometheus' own scrapes of /metrics), plus those over metrics the service
 * exports from its first scrape (label-less counters, Redis and process gauges). Each must
 * return at least one series against a stack the smoke tests ran on; every other expression
 * only has to evaluate without error. No refId: every target of the panel.
 */
export const PANELS_WITH_DATA: ReadonlyArray<{ panel: string; refId?: string }> = [
  { panel: 'Service up' },
  { panel: 'Requests/s' },
  { panel: '5xx ratio' },
  { panel: 'Successful logins/s' },
  { panel: 'Redis up' },
  { panel: 'Secret fallbacks, last 12 h' },
  { panel: 'Request rate by route' },
  { panel: 'Latency percentiles by route' },
  // 401s and 429s: the smoke tests' wrong passwords and throttled logins (5xx: none expected)
  { panel: '4xx and 5xx rates', refId: 'A' },
  { panel: 'Login outcomes' },
  { panel: 'Throttle refusals by limit' },
  { panel: 'Sessions created' },
  { panel: 'Sessions revoked by reason' },
  { panel: 'Session secret fallback rate' },
  { panel: 'Password-hash duration' },
  { panel: 'Password-hash rejections' },
  { panel: 'Redis up by instance' },
  { panel: 'Redis evicted keys' },
  { panel: 'Process memory' },
  { panel: 'Event-loop lag' },
  { panel: 'CPU' },
];

export function needsData(query: QuerySource): boolean {
  return query.kind === 'panel' && PANELS_WITH_DATA.some((p) => p.panel === query.name && (p.refId === undefined || p.refId === query.refId));
}

/** A query ready to send: the source, the expression with Grafana's variables replaced. */
export interface PreparedQuery extends QuerySource {
  promql: string;
}

/** Reads the dashboards and rule files and prepares every expression in them. */
export function loadQueries(
  dashboardFiles: string[],
  ruleFiles: string[],
  intervals: GrafanaIntervals = DEFAULT_INTERVALS,
): { queries: PreparedQuery[]; recorded: string[]; missingPanels: string[] } {
  const builtins = builtinVariables(intervals);
  const queries: PreparedQuery[] = [];
  const titles = new Set<string>();
  for (const file of dashboardFiles) {
    const dashboard: unknown = JSON.parse(readFileSync(file, 'utf8'));
    const variables = { ...dashboardVariables(dashboard), ...builtins };
    for (const query of dashboardQueries(dashboard, basename(file))) {
      titles.add(query.name);
      queries.push({ ...query, promql: substituteVariables(query.expr, variables) });
    }
  }
  const recorded: string[] = [];
  for (const file of ruleFiles) {
    const rules: unknown = parseYaml(readFileSync(file, 'utf8'));
    recorded.push(...recordedNames(rules));
    for (const query of ruleQueries(rules, basename(file))) queries.push({ ...query, promql: query.expr });
  }
  const missingPanels = PANELS_WITH_DATA.filter((p) => !titles.has(p.panel)).map((p) => p.panel);
  return { queries, recorded, missingPanels };
}

export interface CheckRow {
  source: string;
  series: number | undefined;
  required: boolean;
  ok: boolean;
  status: string;
}

export interface CheckOptions {
  target: ScrapeTarget;
  /** Prometheus' config, TSDB and log; kept for the caller (who removes it). */
  workDir: string;
  dashboardFiles?: string[];
  ruleFiles?: string[];
  intervals?: GrafanaIntervals;
  /** Successful scrapes to wait for before querying. */
  scrapes?: number;
  /** false: PANELS_WITH_DATA may be empty too (a stack that saw only some of the smoke tests). */
  requireData?: boolean;
}

const filesIn = (dir: string, extension: string) =>
  existsSync(dir)
    ? readdirSync(dir)
        .filter((name) => name.endsWith(extension))
        .sort()
        .map((name) => join(dir, name))
    : [];

/**
 * Proves the dashboards' and alert rules' PromQL against real data: a Prometheus of our own
 * scrapes the target every second with the repository's rule files loaded; once it has a few
 * scrapes, every expression is evaluated through the HTTP API. A row fails on a syntax or
 * evaluation error, on a metric name the target never exports, on a rule Prometheus reports
 * unhealthy, and on an empty result where PANELS_WITH_DATA needs data.
 */
export async function runPromqlCheck(options: CheckOptions): Promise<{ ok: boolean; rows: CheckRow[]; notes: string[] }> {
  const dashboardFiles = options.dashboardFiles ?? filesIn(DASHBOARD_DIR, '.json');
  const ruleFiles = options.ruleFiles ?? filesIn(RULES_DIR, '.yml');
  const { queries, recorded, missingPanels } = loadQueries(dashboardFiles, ruleFiles, options.intervals);
  const requireData = options.requireData ?? true;
  if (requireData && missingPanels.length > 0) throw new CliError(`PANELS_WITH_DATA names panels no dashboard has: ${missingPanels.join(', ')}`);
  mkdirSync(options.workDir, { recursive: true });
  const prometheus = new TempPrometheus({ workDir: options.workDir, target: options.target, ruleFiles, intervalSeconds: 1 });
  const started = Date.now();
  await prometheus.start();
  try {
    await prometheus.waitForScrapes(options.scrapes ?? 3);
    log(`prometheus scraped ${options.target.address} (${Math.round((Date.now() - started) / 1000)}s); evaluating ${queries.length} expressions`);
    const metadata = await prometheus.metadata();
    const known = new Set([...exportedSeriesNames(metadata), ...(await prometheus.seriesNames()), ...PROMETHEUS_SERIES, ...recorded]);
    const ruleHealth = new Map((await prometheus.rules()).map((rule) => [rule.name, rule]));
    const rows: CheckRow[] = [];
    for (const query of queries) {
      const required = requireData && needsData(query);
      const row = (ok: boolean, status: string, series?: number) => rows.push({ source: query.source, series, required, ok, status });
      const result = await prometheus.query(query.promql);
      // What Prometheus cannot parse it reports itself; the names are read from what it can.
      let unknown: string[] = [];
      try {
        if (result.ok) unknown = unknownMetrics(query.promql, known, metadata);
      } catch (error) {
        unknown = [`(cannot read the metric names: ${error instanceof Error ? error.message : String(error)})`];
      }
      const rule = query.kind === 'alert' || query.kind === 'record' ? ruleHealth.get(query.name) : undefined;
      if (!result.ok) row(false, `FAIL: ${result.errorType}: ${result.error}`);
      else if (unknown.length > 0) row(false, `FAIL: not exported by the target: ${unknown.join(', ')}`, result.series);
      else if (rule && rule.health !== 'ok') row(false, `FAIL: rule ${rule.health}: ${rule.lastError ?? ''}`, result.series);
      else if (result.series === 0 && required) row(false, 'FAIL: no data (this panel must have data)', 0);
      else row(true, result.series === 0 ? 'ok (empty)' : 'ok', result.series);
    }
    // Drift the other way: what the service exports that no panel or rule shows.
    const used = new Set(rows.every((r) => r.ok) ? queries.flatMap((q) => metricNames(q.promql)) : []);
    const unshown = Object.keys(metadata)
      .filter((name) => !/^(process|nodejs)_/.test(name))
      .filter((name) => ![...exportedSeriesNames({ [name]: metadata[name]! })].some((series) => used.has(series)))
      .sort();
    const notes = unshown.length > 0 && used.size > 0 ? [`exported but on no panel or rule: ${unshown.join(', ')}`] : [];
    return { ok: rows.every((r) => r.ok), rows, notes };
  } finally {
    await prometheus.stop();
  }
}

/** The result table: where each expression comes from, how many series it returned, its status. */
export function formatTable(rows: CheckRow[]): string {
  const header = { source: 'EXPRESSION SOURCE', series: 'SERIES', status: 'STATUS' };
  const width = Math.max(header.source.length, ...rows.map((r) => r.source.length));
  const line = (source: string, series: string, status: string) => `${source.padEnd(width)}  ${series.padStart(6)}  ${status}`;
  return [
    line(header.source, header.series, header.status),
    ...rows.map((r) => line(r.source, r.series === undefined ? '-' : String(r.series), `${r.status}${r.required && r.ok ? ' (data required)' : ''}`)),
  ].join('\n');
}

/** Runs the check and prints the table (stdout) and a verdict (stderr); true when every row passed. */
export async function checkAndReport(options: CheckOptions): Promise<boolean> {
  const { ok, rows, notes } = await runPromqlCheck(options);
  process.stdout.write(`${formatTable(rows)}\n`);
  for (const note of notes) log(note);
  const failed = rows.filter((r) => !r.ok);
  log(
    ok
      ? `ok: ${rows.length} expressions evaluate, ${rows.filter((r) => r.required).length} panel queries that need data have it`
      : `${failed.length} of ${rows.length} expressions FAILED (Prometheus work dir: ${options.workDir})`,
  );
  if (failed.some((r) => r.series === 0 && r.required))
    log('panels without data: has the stack seen logins yet? (the smoke tests give it the traffic: make smoke; or --no-require-data)');
  return ok;
}

/**
 * The check against the native stack's service (test-stack: after the smoke tests, before the
 * teardown): /metrics on its own port with the stack's token file.
 */
export function nativeStackTarget(runDir: string, servicePort: number): ScrapeTarget {
  const tokenFile = join(runDir, 'secrets', 'metrics_token');
  return {
    job: 'authstack',
    address: `127.0.0.1:${servicePort}`,
    scheme: 'http',
    metricsPath: '/metrics',
    tokenFile: existsSync(tokenFile) ? tokenFile : undefined,
  };
}

const USAGE = `usage: node ops/cli.ts promql-check [--target host:port | URL] [--token-file FILE] [--ca-file FILE] [--no-require-data] [--keep]

Starts a throwaway Prometheus (the Debian prometheus binary) scraping the service's /metrics every
second with deploy/prometheus/rules/*.yml loaded, then evaluates every PromQL expression of
deploy/grafana/dashboards/*.json and of the rules, and prints a table. Exit 1 when an expression
fails to evaluate, names a metric the service does not export, or returns nothing where the panel
must have data (PANELS_WITH_DATA in ops/monitoring/promql-check.ts).

  --target      host:port (plain HTTP) or a URL (https://localhost:8443 scrapes /metrics through
                the edge). Default: the service of the running native stack (RUN_DIR, .run/native).
  --token-file  file holding METRICS_TOKEN. Default: the native stack's secret file for its own
                service, else METRICS_TOKEN from ENV_FILE (.env), else no token.
  --ca-file     CA for an https target (default certs/ca.crt when it exists).
  --no-require-data
                only check that every expression evaluates and names exported metrics (a stack
                that has seen no logins yet; make smoke gives it the traffic the panels need).
  --keep        keep Prometheus' work directory (config, TSDB, log) and print where it is.`;

/** The switches; node:util's parseArgs (strict) rejects any other, a value where none belongs and a missing value. */
const OPTIONS = {
  help: { type: 'boolean', short: 'h' },
  keep: { type: 'boolean' },
  'no-require-data': { type: 'boolean' },
  target: { type: 'string' },
  'token-file': { type: 'string' },
  'ca-file': { type: 'string' },
} as const;

function parseOptions(args: string[]) {
  try {
    const { values } = parseArgs({ args, options: OPTIONS });
    // parseArgs takes --target= as an empty value; none of these means anything empty.
    const empty = Object.entries(values).find(([, value]) => value === '');
    if (empty) throw new CliError(`promql-check: --${empty[0]} needs a value\n\n${USAGE}`, 2);
    return values;
  } catch (error) {
    // A usage error: exit 2 with the usage, as for an unknown command.
    if (error instanceof Error && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS_'))
      throw new CliError(`promql-check: ${error.message}\n\n${USAGE}`, 2);
    throw error;
  }
}

/** The target a user named: host:port is plain HTTP; a URL may be https and carry a path. */
export function parseTarget(value: string): Pick<ScrapeTarget, 'address' | 'scheme' | 'metricsPath'> {
  if (/^https?:\/\//.test(value)) {
    const url = new URL(value);
    const scheme = url.protocol === 'https:' ? 'https' : 'http';
    return {
      scheme,
      address: `${url.hostname}:${url.port || (scheme === 'https' ? '443' : '80')}`,
      metricsPath: url.pathname === '/' ? '/metrics' : url.pathname,
    };
  }
  if (!/^[^\s/:]+:\d+$/.test(value) && !/^\[[0-9a-f:]+\]:\d+$/i.test(value)) throw new CliError(`--target must be host:port or a URL, got '${value}'`, 2);
  return { scheme: 'http', address: value, metricsPath: '/metrics' };
}

/**
 * `node ops/cli.ts promql-check [--target host:port]`: the same check by hand, against the
 * running native stack or any target. Returns the exit code.
 */
export async function promqlCheckCommand(args: string[]): Promise<number> {
  const options = parseOptions(args);
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let target: ScrapeTarget;
  if (options.target !== undefined) {
    target = { job: 'authstack', ...parseTarget(options.target) };
  } else {
    const runDir = fromRepo(process.env.RUN_DIR ?? '.run/native');
    const stateFile = join(runDir, 'stack.json');
    if (!existsSync(stateFile)) throw new CliError(`no native stack in ${runDir}: start one (make up STACK=native) or give --target host:port`);
    const { servicePort } = JSON.parse(readFileSync(stateFile, 'utf8')) as { servicePort: number };
    target = nativeStackTarget(runDir, servicePort);
  }
  const workDir = mkdtempSync(join(tmpdir(), 'authstack-promql-'));
  if (options['token-file'] !== undefined) target.tokenFile = fromRepo(options['token-file']);
  else if (!target.tokenFile) {
    const token = readEnvFile(fromRepo(process.env.ENV_FILE ?? '.env')).METRICS_TOKEN;
    if (token) {
      writeSecretFiles(join(workDir, 'secrets'), { metrics_token: token });
      target.tokenFile = join(workDir, 'secrets', 'metrics_token');
    }
  }
  if (target.scheme === 'https') {
    const caFile = options['ca-file'] !== undefined ? fromRepo(options['ca-file']) : join(repoRoot, 'certs/ca.crt');
    if (existsSync(caFile)) target.caFile = caFile;
  }
  let ok = false;
  try {
    ok = await checkAndReport({ target, workDir, requireData: !options['no-require-data'] });
    return ok ? 0 : 1;
  } finally {
    if (options.keep || !ok) log(`Prometheus work directory kept: ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
}
