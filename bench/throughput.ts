// (d) Throughput of a signed-in read, side by side: authstack's GET /api/me against a bare
// Express "ok" route and a tutorial-style express-session + connect-redis GET /me, each behind
// the project's own nginx configuration, on one machine in one run, with wrk. Reports req/s,
// p50, p99, Node CPU per request and, for authstack, Redis commands per request.
import { createClient } from 'redis';
import { httpsClient } from '../ops/lib/https-client.ts';
import { median } from './lib/http.ts';
import { cpuMs, startEdge, startNode, type Running } from './lib/processes.ts';
import { wrk } from './lib/wrk.ts';

export interface ThroughputRow {
  app: 'bare' | 'tutorial' | 'authstack';
  connections: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerRequest: number;
  redisCommandsPerRequest?: number;
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

async function commandsRun(redisUrl: string): Promise<number> {
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    const stats = await client.info('commandstats');
    return [...stats.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)].filter((m) => m[1] !== 'info' && m[1] !== 'ping').reduce((sum, m) => sum + Number(m[2]), 0);
  } finally {
    await client.close();
  }
}

interface Target {
  app: ThroughputRow['app'];
  process: Running;
  url: string;
  headers: Record<string, string>;
}

async function measure(target: Target, connections: number, options: ThroughputOptions, redisUrl: string): Promise<ThroughputRow> {
  const runs = [];
  for (let pass = 0; pass < options.passes; pass += 1) {
    await wrk({ url: target.url, connections, seconds: options.warmupSeconds, headers: target.headers });
    const [cpuBefore, commandsBefore] = [cpuMs(target.process.pid), target.app === 'authstack' ? await commandsRun(redisUrl) : 0];
    const result = await wrk({ url: target.url, connections, seconds: options.seconds, headers: target.headers });
    const [cpuAfter, commandsAfter] = [cpuMs(target.process.pid), target.app === 'authstack' ? await commandsRun(redisUrl) : 0];
    runs.push({ ...result, cpuUs: ((cpuAfter - cpuBefore) * 1000) / result.requests, commands: (commandsAfter - commandsBefore) / result.requests });
  }
  return {
    app: target.app,
    connections,
    rps: median(runs.map((r) => r.rps)),
    p50Ms: median(runs.map((r) => r.p50Ms)),
    p99Ms: median(runs.map((r) => r.p99Ms)),
    cpuUsPerRequest: median(runs.map((r) => r.cpuUs)),
    redisCommandsPerRequest: target.app === 'authstack' ? median(runs.map((r) => r.commands)) : undefined,
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    passes: runs.map((r) => r.rps),
  };
}

/** Starts an app and its edge, signs in where the app has sessions, and hands back what wrk needs. */
async function startTarget(app: Target['app'], redisUrl: string, serviceLog: string): Promise<{ target: Target; stop: () => Promise<void> }> {
  // BENCH_SERVICE_DIR: measure another checkout's build (a before/after comparison), same bench.
  const serviceDir = process.env.BENCH_SERVICE_DIR ?? '.';
  const script = { bare: 'bench/reference/bare-express.ts', tutorial: 'bench/reference/tutorial-session.ts', authstack: `${serviceDir}/dist/server.js` }[app];
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
  const running = await startNode(script, env, { readyPath: app === 'authstack' ? '/healthz' : '/', logFile: app === 'authstack' ? serviceLog : undefined });
  const edge = await startEdge(running.port);
  const send = httpsClient({ caFile: edge.caFile });
  const headers: Record<string, string> = {};
  let path = '/';
  if (app === 'tutorial') {
    headers.Cookie = (await send(`${edge.origin}/login`, { json: {} })).cookie()!;
    path = '/me';
  } else if (app === 'authstack') {
    const login = await send(`${edge.origin}/api/login`, { json: { username: 'bench-admin', password: PASSWORD } });
    if (login.status !== 200) throw new Error(`bench login failed: ${login.status} ${login.body}`);
    headers.Cookie = (login.headers['set-cookie'] as string[]).find((c) => c.startsWith('__Host-sid='))!.split(';')[0]!;
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

export async function throughput(redisUrl: string, options: ThroughputOptions): Promise<ThroughputRow[]> {
  const rows: ThroughputRow[] = [];
  for (const app of ['bare', 'tutorial', 'authstack'] as const) {
    const { target, stop } = await startTarget(app, redisUrl, options.serviceLog);
    try {
      for (const connections of options.connections) rows.push(await measure(target, connections, options, redisUrl));
    } finally {
      await stop();
    }
  }
  return rows;
}
