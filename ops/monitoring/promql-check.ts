/**
 * Proves the dashboards' and alert rules' PromQL against real data: a throwaway Prometheus (Debian's
 * binary, the version compose runs) scrapes the target every second with the repository's rule files
 * loaded; once it has a few scrapes, every expression is evaluated through its HTTP API. A row fails on
 * a syntax or evaluation error, on a metric name the target never exports, on a rule Prometheus reports
 * unhealthy, and on an empty result where PANELS_WITH_DATA needs data.
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
/** The scrape job: the rules and the dashboards select job="authstack". */
const JOB = 'authstack';

/** What the throwaway Prometheus scrapes: one target per job, as the compose Prometheus does. */
export interface ScrapeTarget {
  /** The /metrics URL (http or https); a query string becomes the scrape's params (the blackbox exporter's /probe). */
  url: string;
  /** The file holding the bearer token /metrics wants (METRICS_TOKEN); none: no Authorization. */
  tokenFile?: string;
  /** https: the CA that issued the target's certificate. */
  caFile?: string;
}

interface Answer<T> {
  status: 'success' | 'error';
  /** Absent on an error. */
  data: T;
  errorType?: string;
  error?: string;
}
type Rule = { name: string; health: string; lastError?: string; lastEvaluation: string };
type Result = { resultType: string; result: Array<{ values?: Array<[number, string]> }> };
type Targets = { activeTargets: Array<{ health: string; lastError: string }> };

/** Starts Prometheus on a free loopback port in `workDir`; only the process it started is ever signalled. */
async function startPrometheus(workDir: string, jobs: Record<string, ScrapeTarget>, ruleFiles: string[]) {
  await ensureTools('prometheus');
  mkdirSync(join(workDir, 'data'), { recursive: true });
  const scrape_configs = Object.entries(jobs).map(([name, target]) => {
    const { protocol, host, pathname, searchParams } = new URL(target.url);
    const params = Object.fromEntries([...searchParams.keys()].map((key) => [key, searchParams.getAll(key)]));
    return {
      job_name: name,
      scheme: protocol.slice(0, -1),
      metrics_path: pathname,
      params,
      static_configs: [{ targets: [host] }],
      authorization: target.tokenFile ? { type: 'Bearer', credentials_file: target.tokenFile } : undefined,
      tls_config: target.caFile ? { ca_file: target.caFile } : undefined,
    };
  });
  // JSON is YAML. Rules are evaluated as often as the target is scraped; the scrape timeout follows.
  const global = { scrape_interval: '1s', evaluation_interval: '1s' };
  writeFileSync(join(workDir, 'prometheus.yml'), JSON.stringify({ global, rule_files: ruleFiles, scrape_configs }));
  const [port] = (await freePorts(1)) as [number];
  const url = `http://127.0.0.1:${port}`;
  const logFile = join(workDir, 'prometheus.log');
  const output = openSync(logFile, 'a');
  const args = [`--config.file=${workDir}/prometheus.yml`, `--storage.tsdb.path=${workDir}/data`, '--log.level=warn'];
  const child = spawn('prometheus', [...args, `--web.listen-address=127.0.0.1:${port}`], {
    stdio: ['ignore', output, output],
  });
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
 * Waits for `scrapes` successful scrapes (rate() needs two samples), then for every rule to be evaluated
 * after them, so alert expressions ran against real series. The first scrape comes about 5 s after the
 * start: Prometheus applies discovered targets every 5 s.
 */
async function waitForScrapes(prometheus: Prometheus, jobs: string[], scrapes: number): Promise<void> {
  let scrapedAt: number | undefined;
  const scraped = async () => {
    if (scrapedAt === undefined) {
      let all = true;
      for (const job of jobs) {
        const { data } = await prometheus.api<Result>('/api/v1/query', { query: `up{job="${job}"}[1h]` });
        const ups = (data.result[0]?.values ?? []).map(([, value]) => value);
        // Every scrape so far failed (refused, 401): no point in waiting for the deadline.
        if (ups.length >= scrapes && !ups.includes('1')) return false;
        all &&= ups.filter((value) => value === '1').length >= scrapes;
      }
      if (all) scrapedAt = Date.now();
    }
    const since = scrapedAt;
    return since !== undefined && (await prometheus.rules()).every((r) => Date.parse(r.lastEvaluation) >= since)
      ? true
      : undefined;
  };
  if (await waitFor(scraped, { timeoutMs: 30_000 })) return;
  const { data } = await prometheus.api<Targets>('/api/v1/targets');
  const health = data.activeTargets
    .map((t) => ` (target ${t.health}${t.lastError ? `: ${t.lastError}` : ''})`)
    .join('');
  throw new CliError(`prometheus did not scrape ${jobs.join(', ')} ${scrapes} times${health}\n${prometheus.logTail()}`);
}

export interface CheckOptions {
  /** The service (job authstack). */
  target: ScrapeTarget;
  /**
   * Other jobs the rules and panels select (job="acme": the certificate renewer; job="tls-edge": the
   * blackbox exporter probing the edge). An expression that selects a job not scraped here is listed
   * as skipped, not failed.
   */
  otherJobs?: Record<string, ScrapeTarget>;
  /** Prometheus' config, TSDB and log; kept for the caller (who removes it). */
  workDir: string;
  /**
   * false: PANELS_WITH_DATA may be empty too (a stack that saw only some of the smoke tests); a list:
   * these panels must have data, the others may be empty.
   */
  requireData?: boolean | readonly string[];
}

/** Runs the check and prints the table (stdout) and a verdict (stderr); true when every row passed. */
export async function checkAndReport({
  target,
  otherJobs = {},
  workDir,
  requireData = true,
}: CheckOptions): Promise<boolean> {
  const { queries, recorded, missingPanels } = loadQueries();
  if (requireData && missingPanels.length > 0)
    throw new CliError(`PANELS_WITH_DATA names panels no dashboard has: ${missingPanels.join(', ')}`);
  const started = Date.now();
  const jobs = { [JOB]: target, ...otherJobs };
  const prometheus = await startPrometheus(workDir, jobs, filesIn(RULES_DIR, '.yml'));
  try {
    await waitForScrapes(prometheus, Object.keys(jobs), 3);
    const scraped = Object.entries(jobs).map(([job, { url }]) => `${job} ${url}`);
    log(
      `prometheus scraped ${scraped.join(', ')} (${Math.round((Date.now() - started) / 1000)}s); evaluating ${queries.length} expressions`,
    );
    // Name → type from the `# TYPE` lines of the scrapes, also for metrics that have no sample yet.
    const { data } = await prometheus.api<Record<string, Array<{ type: string }>>>('/api/v1/metadata');
    const metadata = Object.fromEntries(
      Object.entries(data).map(([name, [first]]) => [name, first?.type ?? 'unknown']),
    );
    const inTsdb = (await prometheus.api<string[]>('/api/v1/label/__name__/values')).data;
    const known = new Set([...exportedSeriesNames(metadata), ...inTsdb, ...PROMETHEUS_SERIES, ...recorded]);
    const rules = new Map((await prometheus.rules()).map((rule) => [rule.name, rule]));
    const rows: Array<{ source: string; series?: number; required: boolean; failure?: string; skipped?: string }> = [];
    for (const query of queries) {
      const absent = [...query.promql.matchAll(/\bjob="([^"]+)"/g)].map((m) => m[1]!).filter((job) => !(job in jobs));
      if (absent.length > 0) {
        rows.push({ source: query.source, required: false, skipped: `job ${absent.join(', ')} not scraped here` });
        continue;
      }
      const required = Array.isArray(requireData) ? needsData(query, requireData) : requireData && needsData(query);
      const answer = await prometheus.api<Result>('/api/v1/query', { query: query.promql });
      // vector and matrix: a list of series; scalar and string: one value (no data on an error).
      const { resultType, result } = answer.data ?? {};
      const series = answer.status !== 'success' ? undefined : /^(vector|matrix)$/.test(resultType) ? result.length : 1;
      const rule = query.kind === 'alert' || query.kind === 'record' ? rules.get(query.name) : undefined;
      let unknown: string[] = [];
      try {
        // What Prometheus cannot parse it reports itself; the names are read from what it can.
        if (series !== undefined) unknown = unknownMetrics(query.promql, known, metadata);
      } catch (error) {
        unknown = [`(cannot read the metric names: ${(error as Error).message})`];
      }
      let failure: string | undefined;
      if (series === undefined) failure = `${answer.errorType}: ${answer.error}`;
      else if (unknown.length > 0) failure = `not exported by the target: ${unknown.join(', ')}`;
      else if (rule && rule.health !== 'ok') failure = `rule ${rule.health}: ${rule.lastError ?? ''}`;
      else if (series === 0 && required) failure = 'no data (this panel must have data)';
      rows.push({ source: query.source, series, required, failure });
    }
    const width = Math.max(...rows.map((r) => r.source.length), 'EXPRESSION SOURCE'.length);
    const line = (source: string, series: string, status: string) =>
      `${source.padEnd(width)}  ${series.padStart(6)}  ${status}`;
    process.stdout.write(`${line('EXPRESSION SOURCE', 'SERIES', 'STATUS')}\n`);
    for (const { source, series, required, failure, skipped } of rows) {
      const status = failure
        ? `FAIL: ${failure}`
        : skipped
          ? `skipped: ${skipped}`
          : `${series === 0 ? 'ok (empty)' : 'ok'}${required ? ' (data required)' : ''}`;
      process.stdout.write(`${line(source, String(series ?? '-'), status)}\n`);
    }
    const failed = rows.filter((r) => r.failure);
    if (failed.length === 0) {
      // Drift the other way: what the target exports that no panel or rule reads.
      const used = new Set(queries.flatMap((q) => metricNames(q.promql)));
      const shown = (name: string) => [...exportedSeriesNames({ [name]: metadata[name]! })].some((s) => used.has(s));
      const unshown = Object.keys(metadata).filter((name) => !/^(process|nodejs)_/.test(name) && !shown(name));
      if (unshown.length > 0) log(`exported but on no panel or rule: ${unshown.sort().join(', ')}`);
      log(
        `ok: ${rows.filter((r) => !r.skipped).length} expressions evaluate (${rows.filter((r) => r.skipped).length} skipped), ${rows.filter((r) => r.required).length} panel queries that need data have it`,
      );
      return true;
    }
    log(`${failed.length} of ${rows.length} expressions FAILED`);
    if (failed.some((r) => r.series === 0 && r.required))
      log(
        'panels without data: has the stack seen logins yet? (the smoke tests give it the traffic: make smoke; or --no-require-data)',
      );
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
  const { origin, pathname } = url;
  const caFile = join(repoRoot, 'certs/ca.crt');
  return {
    url: `${origin}${pathname === '/' ? '/metrics' : pathname}`,
    caFile: existsSync(caFile) ? caFile : undefined,
  };
}

/** `node ops/cli.ts promql-check`: the same check by hand, against the running native stack or any target. */
export async function promqlCheckCommand(args: string[]): Promise<number> {
  let options;
  try {
    const booleans = { help: { type: 'boolean', short: 'h' }, 'no-require-data': { type: 'boolean' } } as const;
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
  const envFile = readEnvFile(fromRepo(process.env.ENV_FILE ?? '.env'));
  const token = target.tokenFile ? undefined : (process.env.METRICS_TOKEN ?? envFile.METRICS_TOKEN);
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
