// wrk (Debian's package): the load generator for the throughput benchmarks.
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { parseDuration } from '../../service/src/config/setting-types.ts';

export interface WrkResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors plus non-2xx/3xx answers. */
  errors: number;
}

const ms = (text: string): number => parseDuration(text) ?? Number.NaN;

/** Parses wrk --latency output. */
export function parseWrk(output: string): WrkResult {
  const requests = Number(/(\d+) requests in ([\d.]+)(\w+)/.exec(output)?.[1]);
  const seconds = ms(/\d+ requests in ([\d.]+\w+)/.exec(output)?.[1] ?? '') / 1000;
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0);
  return {
    requests,
    seconds,
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(output)?.[1]),
    p50Ms: ms(/^\s+50%\s+(\S+)/m.exec(output)?.[1] ?? ''),
    p99Ms: ms(/^\s+99%\s+(\S+)/m.exec(output)?.[1] ?? ''),
    errors: non2xx + (socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0),
  };
}

export interface WrkOptions {
  url: string;
  connections: number;
  seconds: number;
  threads?: number;
  headers?: Record<string, string>;
  /** A POST body (JSON): wrk sends it with every request. */
  postJson?: string;
}

export async function wrk(options: WrkOptions): Promise<WrkResult> {
  const args = [
    '-t',
    String(options.threads ?? 2),
    '-c',
    String(options.connections),
    '-d',
    `${options.seconds}s`,
    '--latency',
    '--timeout',
    '10s',
  ];
  for (const [name, value] of Object.entries(options.headers ?? {})) args.push('-H', `${name}: ${value}`);
  let script: string | undefined;
  if (options.postJson !== undefined) {
    script = join(tmpdir(), `authstack-wrk-${process.pid}.lua`);
    writeFileSync(
      script,
      `wrk.method = "POST"\nwrk.body = ${JSON.stringify(options.postJson)}\nwrk.headers["Content-Type"] = "application/json"\n`,
    );
    args.push('-s', script);
  }
  try {
    const { stdout } = await promisify(execFile)('wrk', [...args, options.url], {
      timeout: (options.seconds + 30) * 1000,
    });
    return parseWrk(stdout);
  } finally {
    if (script) rmSync(script, { force: true });
  }
}
