import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CliError } from '../lib/log.ts';
import { freePorts } from '../../testkit/ports.ts';
import { sleep } from '../lib/run.ts';
import { ensureTools } from '../lib/tools.ts';

/** What one throwaway Prometheus scrapes: a single target, as the compose Prometheus does. */
export interface ScrapeTarget {
  /** Scrape job name. The rules and the dashboard select job="authstack". */
  job: string;
  /** host:port */
  address: string;
  scheme: 'http' | 'https';
  metricsPath: string;
  /** A file holding the bearer token /metrics wants (METRICS_TOKEN); none: no Authorization. */
  tokenFile?: string;
  /** https only: the CA that issued the target's certificate. */
  caFile?: string;
}

export interface PrometheusOptions {
  /** Where the config, the TSDB and prometheus.log go (created; the caller removes it). */
  workDir: string;
  target: ScrapeTarget;
  /** Rule files loaded as they are (absolute paths): their alerts are evaluated against the scrapes. */
  ruleFiles: string[];
  /** Seconds between scrapes and between rule evaluations. */
  intervalSeconds?: number;
}

/** The API's answer to an instant query. */
export type QueryResult = { ok: true; resultType: string; series: number; warnings: string[] } | { ok: false; errorType: string; error: string };

export interface RuleState {
  name: string;
  type: string;
  health: string;
  lastError?: string;
  lastEvaluation: string;
}

interface ApiAnswer<T> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

/**
 * The generated configuration: one job scraping the target every `intervalSeconds`, rules
 * evaluated as often. JSON is YAML, so no YAML writer is needed.
 */
export function prometheusConfig(options: PrometheusOptions): string {
  const interval = `${options.intervalSeconds ?? 1}s`;
  const { target } = options;
  const job: Record<string, unknown> = {
    job_name: target.job,
    scheme: target.scheme,
    metrics_path: target.metricsPath,
    scrape_interval: interval,
    scrape_timeout: interval,
    static_configs: [{ targets: [target.address] }],
  };
  if (target.tokenFile) job.authorization = { type: 'Bearer', credentials_file: target.tokenFile };
  if (target.caFile) job.tls_config = { ca_file: target.caFile };
  return `${JSON.stringify({ global: { scrape_interval: interval, evaluation_interval: interval }, rule_files: options.ruleFiles, scrape_configs: [job] }, null, 2)}\n`;
}

/**
 * A Prometheus of our own (the Debian `prometheus` binary, the version compose runs) in a work
 * directory, on a free loopback port: started, asked, stopped. Only the process it started is
 * ever signalled.
 */
export class TempPrometheus {
  private child: ChildProcess | undefined;
  private exited: Promise<void> | undefined;
  private port = 0;
  private readonly options: PrometheusOptions;
  readonly logFile: string;

  constructor(options: PrometheusOptions) {
    this.options = options;
    this.logFile = join(options.workDir, 'prometheus.log');
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    await ensureTools('prometheus');
    const { workDir } = this.options;
    mkdirSync(join(workDir, 'data'), { recursive: true });
    const configFile = join(workDir, 'prometheus.yml');
    writeFileSync(configFile, prometheusConfig(this.options));
    [this.port] = (await freePorts(1)) as [number];
    const log = openSync(this.logFile, 'a');
    try {
      this.child = spawn(
        'prometheus',
        [
          `--config.file=${configFile}`,
          `--storage.tsdb.path=${join(workDir, 'data')}`,
          `--web.listen-address=127.0.0.1:${this.port}`,
          '--storage.tsdb.retention.time=1h',
          '--log.level=warn',
        ],
        { stdio: ['ignore', log, log] },
      );
    } finally {
      closeSync(log);
    }
    const child = this.child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('error', () => undefined);
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (await this.ready()) return;
      await sleep(200);
    }
    await this.stop();
    throw new CliError(`prometheus did not become ready:\n${this.logTail()}`);
  }

  private async ready(): Promise<boolean> {
    try {
      return (await fetch(`${this.url}/-/ready`, { signal: AbortSignal.timeout(1000) })).ok;
    } catch {
      return false;
    }
  }

  /** The last lines Prometheus logged (warnings and errors only: --log.level=warn). */
  logTail(lines = 15): string {
    return existsSync(this.logFile) ? readFileSync(this.logFile, 'utf8').trim().split('\n').slice(-lines).join('\n') : '';
  }

  private async api<T>(path: string, form?: Record<string, string>): Promise<ApiAnswer<T>> {
    const response = await fetch(`${this.url}${path}`, {
      method: form ? 'POST' : 'GET',
      body: form ? new URLSearchParams(form) : undefined,
      signal: AbortSignal.timeout(10_000),
    });
    return (await response.json()) as ApiAnswer<T>;
  }

  /** An instant query now, through the HTTP API the way Grafana sends it (POST, form-encoded). */
  async query(expr: string): Promise<QueryResult> {
    const answer = await this.api<{ resultType: string; result: unknown }>('/api/v1/query', { query: expr });
    if (answer.status !== 'success' || !answer.data)
      return { ok: false, errorType: answer.errorType ?? 'unknown', error: answer.error ?? 'no data in the answer' };
    const { resultType, result } = answer.data;
    // vector and matrix: a list of series; scalar and string: one value.
    const series = Array.isArray(result) && (resultType === 'vector' || resultType === 'matrix') ? result.length : 1;
    return { ok: true, resultType, series, warnings: answer.warnings ?? [] };
  }

  /** A query's single value (the first series), or undefined when it has none. */
  async value(expr: string): Promise<number | undefined> {
    const answer = await this.api<{ result: Array<{ value: [number, string] }> }>('/api/v1/query', { query: expr });
    const first = answer.data?.result?.[0];
    return first ? Number(first.value[1]) : undefined;
  }

  /** Metric name → type, from the `# TYPE` lines of what was scraped (metrics without samples too). */
  async metadata(): Promise<Record<string, string>> {
    const answer = await this.api<Record<string, Array<{ type: string }>>>('/api/v1/metadata');
    return Object.fromEntries(Object.entries(answer.data ?? {}).map(([name, entries]) => [name, entries[0]?.type ?? 'unknown']));
  }

  /** Every series name in the TSDB. */
  async seriesNames(): Promise<string[]> {
    return (await this.api<string[]>('/api/v1/label/__name__/values')).data ?? [];
  }

  /** The scrape target's health and last error (a 401 means the token is wrong). */
  async targetHealth(): Promise<{ health: string; lastError: string } | undefined> {
    const answer = await this.api<{ activeTargets: Array<{ health: string; lastError: string }> }>('/api/v1/targets');
    return answer.data?.activeTargets[0];
  }

  /** Every loaded rule with its health after its last evaluation. */
  async rules(): Promise<RuleState[]> {
    const answer = await this.api<{ groups: Array<{ rules: RuleState[] }> }>('/api/v1/rules');
    return (answer.data?.groups ?? []).flatMap((group) => group.rules);
  }

  /**
   * Waits until `scrapes` scrapes of the target succeeded and every rule was evaluated after
   * that (so alert expressions ran against real series). The first scrape comes about 5 s after
   * the start: Prometheus applies discovered targets every 5 s.
   */
  async waitForScrapes(scrapes: number, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const job = this.options.target.job;
    let scrapedAt: number | undefined;
    while (Date.now() < deadline) {
      if (scrapedAt === undefined) {
        const succeeded = (await this.value(`sum(sum_over_time(up{job="${job}"}[1h]))`)) ?? 0;
        if (succeeded >= scrapes) scrapedAt = Date.now();
        // Every scrape so far failed (refused, 401): no point in waiting for the deadline.
        else if (succeeded === 0 && ((await this.value(`sum(count_over_time(up{job="${job}"}[1h]))`)) ?? 0) >= scrapes) break;
      }
      const since = scrapedAt;
      if (since !== undefined && (await this.rules()).every((rule) => Date.parse(rule.lastEvaluation) >= since)) return;
      await sleep(250);
    }
    const target = await this.targetHealth();
    const { scheme, address, metricsPath } = this.options.target;
    throw new CliError(
      `prometheus did not scrape ${scheme}://${address}${metricsPath} ${scrapes} times` +
        (target ? ` (target ${target.health}${target.lastError ? `: ${target.lastError}` : ''})` : '') +
        (this.logTail() ? `\n${this.logTail()}` : ''),
    );
  }

  /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const killed = await Promise.race([this.exited!.then(() => true), sleep(5000).then(() => false)]);
    if (!killed) {
      child.kill('SIGKILL');
      await this.exited;
    }
  }
}
