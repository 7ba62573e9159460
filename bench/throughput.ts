// (d) Throughput of a signed-in read, side by side: authstack's GET /api/me against a bare
// Express "ok" route and a tutorial-style express-session + connect-redis GET /me, each behind
// the project's own nginx configuration, on one machine in one run, with wrk. Reports req/s,
// p50, p99, Node CPU per request and, for authstack, Redis commands per request.
import { spawn } from 'node:child_process';
import { httpClient } from '../testkit/http.ts';
import { median } from './lib/http.ts';
import { startEdge } from '../testkit/nginx.ts';
import { cpuMs } from '../testkit/proc.ts';
import { startNode, type Running } from './lib/processes.ts';
import { wrk } from './lib/wrk.ts';

export type App = 'bare' | 'tutorial' | 'authstack';

export interface ThroughputRow<A extends string = App> {
  app: A;
  connections: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  errors: number;
  /** Every pass's req/s, for the range. */
  passes: number[];
}

export interface ThroughputOptions {
  passes: number;
  warmupSeconds: number;
  seconds: number;
  connections: number[];
  /** Where the service writes its log lines (a file, as the native stack does). */
  serviceLog: string;
}

const PASSWORD = 'correct horse battery staple, bench edition';

export interface Target<A extends string = App> {
  app: A;
  process: Running;
  url: string;
  headers: Record<string, string>;
}

export async function measure<A extends string>(
  target: Target<A>,
  connections: number,
  options: Pick<ThroughputOptions, 'passes' | 'warmupSeconds' | 'seconds'>,
): Promise<ThroughputRow<A>> {
  const runs = [];
  for (let pass = 0; pass < options.passes; pass += 1) {
    await wrk({ url: target.url, connections, seconds: options.warmupSeconds, headers: target.headers });
    const cpuBefore = cpuMs(target.process.pid);
    const result = await wrk({ url: target.url, connections, seconds: options.seconds, headers: target.headers });
    runs.push({ ...result, cpuUs: ((cpuMs(target.process.pid) - cpuBefore) * 1000) / result.requests });
  }
  return {
    app: target.app,
    connections,
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    cpuUsPerRequest: median(runs.map((r) => r.cpuUs)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    passes: runs.map((r) => r.rps),
  };
}

/** Starts an app and its edge, signs in where the app has sessions, and hands back what wrk needs. */
async function startTarget(
  app: Target['app'],
  redisUrl: string,
  serviceLog: string,
): Promise<{ target: Target; stop: () => Promise<void> }> {
  // BENCH_SERVICE_DIR: measure another checkout's build (a before/after comparison), same bench.
  const serviceDir = process.env.BENCH_SERVICE_DIR ?? '.';
  const script = {
    bare: 'bench/reference/bare-express.ts',
    tutorial: 'bench/reference/tutorial-session.ts',
    authstack: `${serviceDir}/dist/server.js`,
  }[app];
  const env: Record<string, string> =
    app === 'authstack'
      ? {
          REDIS_URL: redisUrl,
          REDIS_KEY_PREFIX: 'benchauth:',
          SESSION_SECRETS: 'bench-secret-'.padEnd(48, 'x'),
          PUBLIC_ORIGIN: 'https://localhost',
          ADMIN_USERNAME: 'bench-admin',
          ADMIN_PASSWORD: PASSWORD,
          NODE_ENV: 'production',
        }
      : { REDIS_URL: redisUrl, NODE_ENV: 'production' };
  const running = await startNode(script, env, {
    readyPath: app === 'authstack' ? '/healthz' : '/',
    logFile: app === 'authstack' ? serviceLog : undefined,
  });
  const edge = await startEdge(running.port);
  const { send } = httpClient({ caFiles: [edge.caFile] });
  const headers: Record<string, string> = {};
  let path = '/';
  if (app === 'tutorial') {
    headers.Cookie = (await send(`${edge.origin}/login`, { json: {} })).cookie('connect.sid')!;
    path = '/me';
  } else if (app === 'authstack') {
    const login = await send(`${edge.origin}/api/login`, { json: { username: 'bench-admin', password: PASSWORD } });
    if (login.status !== 200) throw new Error(`bench login failed: ${login.status} ${login.body}`);
    headers.Cookie = login.cookie()!;
    path = '/api/me';
  }
  const check = await send(`${edge.origin}${path}`, { headers });
  if (check.status !== 200) throw new Error(`${app}: GET ${path} answered ${check.status}`);
  return {
    target: { app, process: running, url: `${edge.origin}${path}`, headers },
    stop: async () => {
      await edge.stop();
      await running.stop();
    },
  };
}

/** What one signed-in read costs Redis: client round trips and writes (script-internal ones too). */
export interface RedisWork {
  app: Target['app'];
  roundTripsPerRequest: number;
  writesPerRequest: number;
}

const WRITE_COMMANDS = new Set([
  'set',
  'setex',
  'psetex',
  'expire',
  'pexpire',
  'pexpireat',
  'expireat',
  'del',
  'hset',
  'zadd',
  'zrem',
  'incr',
  'decr',
  'incrby',
]);

/**
 * Watches Redis with MONITOR while wrk sends reads: a command from a client connection is a
 * round trip; a command inside a script is marked "lua" and counts only when it writes.
 */
async function redisWork(target: Target, redisUrl: string): Promise<RedisWork> {
  const port = new URL(redisUrl).port;
  const monitor = spawn('redis-cli', ['-p', port, 'monitor'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let roundTrips = 0;
  let writes = 0;
  let buffered = '';
  monitor.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const match = /^[\d.]+ \[\d+ ([^\]]+)\] "([^"]+)"/.exec(line);
      if (!match) continue;
      const [, source, command] = match as unknown as [string, string, string];
      const name = command.toLowerCase();
      if (name === 'ping' || name === 'info' || name === 'monitor') continue;
      if (source !== 'lua') roundTrips += 1;
      if (WRITE_COMMANDS.has(name)) writes += 1;
    }
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  const result = await wrk({ url: target.url, connections: 4, seconds: 3, headers: target.headers });
  await new Promise((resolve) => setTimeout(resolve, 300));
  monitor.kill();
  return {
    app: target.app,
    roundTripsPerRequest: roundTrips / result.requests,
    writesPerRequest: writes / result.requests,
  };
}

export async function throughput(
  redisUrl: string,
  options: ThroughputOptions,
): Promise<{ rows: ThroughputRow[]; redis: RedisWork[] }> {
  const rows: ThroughputRow[] = [];
  const redis: RedisWork[] = [];
  for (const app of ['bare', 'tutorial', 'authstack'] as const) {
    const { target, stop } = await startTarget(app, redisUrl, options.serviceLog);
    try {
      for (const connections of options.connections) rows.push(await measure(target, connections, options));
      if (app !== 'bare') redis.push(await redisWork(target, redisUrl));
    } finally {
      await stop();
    }
  }
  return { rows, redis };
}
