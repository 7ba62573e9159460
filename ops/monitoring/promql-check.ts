/**
 * Proves the dashboards' and alert rules' PromQL against real data: a throwaway Prometheus (Debian's binary, the
 * version compose runs) scrapes the target every second with the repository's rule files loaded; after a few scrapes
 * every expression is evaluated through its HTTP API. A row fails on a syntax or evaluation error, on a metric name
 * the target never exports, on a rule Prometheus reports unhealthy, and on an empty result where PANELS_WITH_DATA
 * needs data.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { readEnvFile } from '../../testkit/env-file.ts';
import { freePorts } from '../../testkit/ports.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { CliError, say } from '../lib/log.ts';
import { sleep, waitFor } from '../../testkit/run.ts';
import { writeSecretFiles } from '../lib/secrets.ts';
import { ensureTools } from '../lib/tools.ts';
import {
  PROMETHEUS_SERIES,
  RULES_DIR,
  exportedSeriesNames,
  filesIn,
  loadQueries,
  metricNames,
  needsData,
  unknownMetrics,
} from './promql.ts';

const log = (message: string) => say('promql-check', message);

/** What the throwaway Prometheus scrapes: one target per job, as the compose Prometheus does. */
export interface ScrapeTarget {
  /** The /metrics URL (http or https); a query string becomes the scrape's params (the blackbox exporter's /probe). */
  url: string;
  /** The file holding the bearer token /metrics wants (METRICS_TOKEN); none: no Authorization. */
  tokenFile?: string;
  /** https: the CA that issued the target's certificate. */
  caFile?: string;
}

/** An HTTP API answer; `data` is absent on an error. */
type Answer<T> = { status: 'success' | 'error'; data: T; errorType?: string; error?: string };
type Rule = { name: string; health: string; lastError?: string; lastEvaluation: string };
type Result = { resultType: string; result: unknown[] };
type Target = { health: string; lastError: string };

/** Starts Prometheus on a free loopback port in `workDir`; only the process it started is ever signalled. */
async function startPrometheus(workDir: string, jobs: Record<string, ScrapeTarget>) {
  await ensureTools('prometheus');
  mkdirSync(join(workDir, 'data'), { recursive: true });
  const rule_files = filesIn(RULES_DIR, '.yml');
  const scrape_configs = Object.entries(jobs).map(([name, { url, tokenFile, caFile }]) => {
    const { protocol, host, pathname, searchParams } = new URL(url);
    return {
      job_name: name,
      scheme: protocol.slice(0, -1),
      metrics_path: pathname,
      params: Object.fromEntries([...searchParams.keys()].map((key) => [key, searchParams.getAll(key)])),
      static_configs: [{ targets: [host] }],
      authorization: tokenFile ? { type: 'Bearer', credentials_file: tokenFile } : undefined,
      tls_config: caFile ? { ca_file: caFile } : undefined,
    };
  });
  // JSON is YAML. Rules are evaluated as often as the target is scraped; the scrape timeout follows.
  const global = { scrape_interval: '1s', evaluation_interval: '1s' };
  writeFileSync(join(workDir, 'prometheus.yml'), JSON.stringify({ global, rule_files, scrape_configs }));
  const address = `127.0.0.1:${(await freePorts(1))[0]}`;
  const [url, logFile] = [`http://${address}`, join(workDir, 'prometheus.log')];
  const output = openSync(logFile, 'a');
  const args = ['--config.file=prometheus.yml', '--storage.tsdb.path=data', `--web.listen-address=${address}`];
  const child = spawn('prometheus', [...args, '--log.level=warn'], { cwd: workDir, stdio: ['ignore', output, output] });
  closeSync(output);
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.once('error', () => undefined);
  const running = () => child.exitCode === null && child.signalCode === null;
  const prometheus = {
    logTail: () => readFileSync(logFile, 'utf8').trim().split('\n').slice(-15).join('\n'),
    api: async <T>(path: string, params: Record<string, string> = {}) => {
      const query = new URLSearchParams(params).toString();
      const answer = await fetch(`${url}${path}?${query}`, { signal: AbortSignal.timeout(10_000) });
      return (await answer.json()) as Answer<T>;
    },
    query: (query: string) => prometheus.api<Result>('/api/v1/query', { query }),
    rules: async () =>
      (await prometheus.api<{ groups: Array<{ rules: Rule[] }> }>('/api/v1/rules')).data.groups.flatMap((g) => g.rules),
    /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
    stop: async () => {
      if (!running()) return;
      child.kill('SIGTERM');
      if (await Promise.race([exited.then(() => false), sleep(5000).then(() => true)])) child.kill('SIGKILL');
      await exited;
    },
  };
  const ready = async () =>
    (await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined))?.ok || undefined;
  // undefined: not yet; false: Prometheus exited.
  if (await waitFor(async () => (running() ? ready() : false), { timeoutMs: 15_000, intervalMs: 200 }))
    return prometheus;
  await prometheus.stop();
  throw new CliError(`prometheus did not become ready:\n${prometheus.logTail()}`);
}
type Prometheus = Awaited<ReturnType<typeof startPrometheus>>;

/**
 * Waits for `scrapes` successful scrapes of each job (rate() needs two samples), then for every rule to be evaluated
 * after them, so alert expressions ran against real series. The first scrape comes about 5 s after the start:
 * Prometheus applies discovered targets every 5 s.
 */
async function waitForScrapes(prometheus: Prometheus, jobs: string[], scrapes: number): Promise<void> {
  const seriesOf = async (query: string) => (await prometheus.query(query)).data.result.length;
  const [tried, succeeded] = ['count_over_time', 'sum_over_time'].map((f) => `sum by (job) (${f}(up[1h]))`);
  let scrapedAt: number | undefined;
  const scraped = async () => {
    if (scrapedAt === undefined) {
      // Every scrape so far failed (refused, 401): no point in waiting for the deadline.
      if (await seriesOf(`${tried} >= ${scrapes} unless ${succeeded} > 0`)) return false;
      if ((await seriesOf(`${succeeded} >= ${scrapes}`)) === jobs.length) scrapedAt = Date.now();
    }
    const since = scrapedAt;
    if (since === undefined) return undefined;
    return (await prometheus.rules()).every((r) => Date.parse(r.lastEvaluation) >= since) || undefined;
  };
  if (await waitFor(scraped, { timeoutMs: 30_000 })) return;
  const targets = await prometheus.api<{ activeTargets: Target[] }>('/api/v1/targets');
  const health = targets.data.activeTargets.map((t) => ` (target ${t.health}${t.lastError ? `: ${t.lastError}` : ''})`);
  const what = `${jobs.join(', ')} ${scrapes} times${health.join('')}`;
  throw new CliError(`prometheus did not scrape ${what}\n${prometheus.logTail()}`);
}

export interface CheckOptions {
  /** The service (job authstack: the rules and the dashboards select job="authstack"). */
  target: ScrapeTarget;
  /**
   * Other jobs the rules and panels select (job="acme": the certificate renewer; job="tls-edge": the blackbox
   * exporter probing the edge). An expression that selects a job not scraped here is listed as skipped, not failed.
   */
  otherJobs?: Record<string, ScrapeTarget>;
  /** Prometheus' config, TSDB and log; kept for the caller (who removes it). */
  workDir: string;
  /**
   * false: PANELS_WITH_DATA may be empty too (a stack that saw only some of the smoke tests); a list: these panels
   * must have data, the others may be empty.
   */
  requireData?: boolean | readonly string[];
}

/** Runs the check and prints the table (stdout) and a verdict (stderr); true when every row passed. */
export async function checkAndReport({ target, otherJobs = {}, workDir, requireData = true }: CheckOptions) {
  const { queries, recorded, missingPanels } = loadQueries();
  if (requireData && missingPanels.length > 0)
    throw new CliError(`PANELS_WITH_DATA names panels no dashboard has: ${missingPanels.join(', ')}`);
  const started = Date.now();
  const jobs = { authstack: target, ...otherJobs };
  const prometheus = await startPrometheus(workDir, jobs);
  try {
    await waitForScrapes(prometheus, Object.keys(jobs), 3);
    const scraped = Object.entries(jobs).map(([job, { url }]) => `${job} ${url}`);
    const seconds = Math.round((Date.now() - started) / 1000);
    log(`prometheus scraped ${scraped.join(', ')} (${seconds}s); evaluating ${queries.length} expressions`);
    // Name → type from the `# TYPE` lines of the scrapes, also for metrics that have no sample yet.
    const { data } = await prometheus.api<Record<string, Array<{ type: string }>>>('/api/v1/metadata');
    const metadata = Object.fromEntries(
      Object.entries(data).map(([name, [first]]) => [name, first?.type ?? 'unknown']),
    );
    const inTsdb = (await prometheus.api<string[]>('/api/v1/label/__name__/values')).data;
    const known = new Set([...exportedSeriesNames(metadata), ...inTsdb, ...PROMETHEUS_SERIES, ...recorded]);
    const notExported = (promql: string) => {
      try {
        return unknownMetrics(promql, known, metadata);
      } catch (error) {
        // Prometheus parsed it (the check runs after it answered), the PromQL grammar did not.
        return [`(cannot read the metric names: ${(error as Error).message})`];
      }
    };
    const rules = new Map((await prometheus.rules()).map((rule) => [rule.name, rule]));
    const width = Math.max(...queries.map((q) => q.source.length), 'EXPRESSION SOURCE'.length);
    const print = (source: string, series: string, status: string) =>
      process.stdout.write(`${source.padEnd(width)}  ${series.padStart(6)}  ${status}\n`);
    print('EXPRESSION SOURCE', 'SERIES', 'STATUS');
    const rows: Array<{ skipped?: boolean; required?: boolean; failure?: string; series?: number }> = [];
    for (const query of queries) {
      const absent = [...query.promql.matchAll(/\bjob="([^"]+)"/g)].map((m) => m[1]!).filter((job) => !(job in jobs));
      if (absent.length > 0) {
        print(query.source, '-', `skipped: job ${absent.join(', ')} not scraped here`);
        rows.push({ skipped: true });
        continue;
      }
      const required = Array.isArray(requireData) ? needsData(query, requireData) : requireData && needsData(query);
      const { status, data, errorType, error } = await prometheus.query(query.promql);
      // vector and matrix: a list of series; scalar and string: one value.
      const series =
        status !== 'success' ? undefined : /^(vector|matrix)$/.test(data.resultType) ? data.result.length : 1;
      const unknown = series === undefined ? [] : notExported(query.promql);
      const rule = query.kind === 'alert' || query.kind === 'record' ? rules.get(query.name) : undefined;
      const failure = [
        series === undefined && `${errorType}: ${error}`,
        unknown.length > 0 && `not exported by the target: ${unknown.join(', ')}`,
        rule && rule.health !== 'ok' && `rule ${rule.health}: ${rule.lastError ?? ''}`,
        series === 0 && required && 'no data (this panel must have data)',
      ].find((problem) => typeof problem === 'string');
      const ok = `${series === 0 ? 'ok (empty)' : 'ok'}${required ? ' (data required)' : ''}`;
      print(query.source, String(series ?? '-'), failure ? `FAIL: ${failure}` : ok);
      rows.push({ required, failure, series });
    }
    const failed = rows.filter((r) => r.failure);
    if (failed.length === 0) {
      // Drift the other way: what the target exports that no panel or rule reads.
      const used = new Set(queries.flatMap((q) => metricNames(q.promql)));
      const shown = (name: string) => [...exportedSeriesNames({ [name]: metadata[name]! })].some((s) => used.has(s));
      const unshown = Object.keys(metadata).filter((name) => !/^(process|nodejs)_/.test(name) && !shown(name));
      if (unshown.length > 0) log(`exported but on no panel or rule: ${unshown.sort().join(', ')}`);
      const skipped = rows.filter((r) => r.skipped).length;
      const evaluated = `${rows.length - skipped} expressions evaluate (${skipped} skipped)`;
      log(`ok: ${evaluated}, ${rows.filter((r) => r.required).length} panel queries that need data have it`);
      return true;
    }
    log(`${failed.length} of ${rows.length} expressions FAILED`);
    const hint =
      'has the stack seen logins yet? (the smoke tests give it the traffic: make smoke; or --no-require-data)';
    if (failed.some((r) => r.series === 0 && r.required)) log(`panels without data: ${hint}`);
    return false;
  } finally {
    await prometheus.stop();
  }
}

/** The check against the native stack's service: /metrics on its own port, with the stack's token file. */
export function nativeStackTarget(runDir: string, servicePort: number): ScrapeTarget {
  const tokenFile = join(runDir, 'secrets', 'metrics_token');
  return { url: `http://127.0.0.1:${servicePort}/metrics`, tokenFile: existsSync(tokenFile) ? tokenFile : undefined };
}

const USAGE = `usage: node ops/cli.ts promql-check [--target host:port | URL] [--no-require-data]

Starts a throwaway Prometheus scraping the service's /metrics every second with
deploy/prometheus/rules/*.yml loaded, evaluates every PromQL expression of the rules and of
deploy/grafana/dashboards/*.json, and prints a table. Exit 1 when an expression fails to evaluate,
names a metric the service does not export, or returns nothing where the panel must have data
(PANELS_WITH_DATA in ops/monitoring/promql.ts).

  --target           host:port (plain HTTP) or a URL (https://localhost:8443 scrapes /metrics through
                     the edge, trusting certs/ca.crt). Default: the native stack's service (RUN_DIR).
  --no-require-data  only check that every expression evaluates and names exported metrics (a stack
                     that has seen no logins yet; make smoke gives it the traffic the panels need).

The bearer token: the native stack's own; for --target, METRICS_TOKEN from the environment or ENV_FILE (.env).`;

function targetOf(value: string | undefined): ScrapeTarget {
  if (value === undefined) {
    const runDir = fromRepo(process.env.RUN_DIR ?? '.run/native');
    const stateFile = join(runDir, 'stack.json');
    if (!existsSync(stateFile))
      throw new CliError(`no native stack in ${runDir}: start one (make up STACK=native) or give --target`);
    const { servicePort } = JSON.parse(readFileSync(stateFile, 'utf8')) as { servicePort: number };
    return nativeStackTarget(runDir, servicePort);
  }
  const url = URL.parse(value.includes('://') ? value : `http://${value}`);
  if (!url || !/^https?:$/.test(url.protocol) || (!value.includes('://') && !/^[^\s/]+:\d+$/.test(value)))
    throw new CliError(`--target must be host:port or a URL, got '${value}'`, 2);
  const caFile = join(repoRoot, 'certs/ca.crt');
  const path = url.pathname === '/' ? '/metrics' : url.pathname;
  return { url: `${url.origin}${path}`, caFile: existsSync(caFile) ? caFile : undefined };
}

/** `node ops/cli.ts promql-check`: the same check by hand, against the running native stack or any target. */
export async function promqlCheckCommand(args: string[]): Promise<number> {
  const booleans = { help: { type: 'boolean', short: 'h' }, 'no-require-data': { type: 'boolean' } } as const;
  let options;
  try {
    options = parseArgs({ args, options: { ...booleans, target: { type: 'string' } } }).values;
  } catch (error) {
    throw new CliError(`promql-check: ${(error as Error).message}\n\n${USAGE}`, 2);
  }
  if (options.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const target = targetOf(options.target);
  const workDir = mkdtempSync(join(tmpdir(), 'authstack-promql-'));
  const envFile = () => readEnvFile(fromRepo(process.env.ENV_FILE ?? '.env'));
  const token = target.tokenFile ? undefined : (process.env.METRICS_TOKEN ?? envFile().METRICS_TOKEN);
  if (token) {
    writeSecretFiles(join(workDir, 'secrets'), { metrics_token: token });
    target.tokenFile = join(workDir, 'secrets', 'metrics_token');
  }
  let ok = false;
  try {
    ok = await checkAndReport({ target, workDir, requireData: !options['no-require-data'] });
  } finally {
    if (ok) rmSync(workDir, { recursive: true, force: true });
    else log(`Prometheus work directory kept: ${workDir}`);
  }
  return ok ? 0 : 1;
}
