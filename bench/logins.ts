// (e) Logins per second as concurrency rises, straight at the service (the edge's own login
// rate limit would otherwise be what is measured), by clients that behave like browsers and
// scripts should: a 503 busy is retried after its Retry-After. And what a login flood does to
// signed-in reads: GET /api/me p99 while logins run flat out, against its p99 unloaded.
import { Agent, request } from 'node:http';
import { percentile } from './lib/http.ts';
import { startNode } from './lib/processes.ts';
import { wrk } from './lib/wrk.ts';

export interface LoginRow {
  connections: number;
  loginsPerSecond: number;
  busyPerSecond: number;
  p50Ms: number;
}

export interface LoginBench {
  rows: LoginRow[];
  meP99IdleMs: number;
  meP99FloodMs: number;
  floodConnections: number;
}

const PASSWORD = 'correct horse battery staple, bench edition';

/** `connections` clients logging in back to back for `seconds`; each honours Retry-After on 503. */
async function loginLoad(port: number, connections: number, seconds: number): Promise<LoginRow> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const body = JSON.stringify({ username: 'bench-admin', password: PASSWORD });
  const latencies: number[] = [];
  let busy = 0;
  const deadline = Date.now() + seconds * 1000;
  // Each client from its own address (the bench is the trusted loopback edge): the throttle
  // counts concurrent attempts per (account, address) before checking them, by design.
  const once = (client: number) =>
    new Promise<{ status: number; retryAfter: number }>((resolve, reject) => {
      const started = performance.now();
      const headers = {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-forwarded-proto': 'https',
        'x-forwarded-for': `10.77.0.${client + 1}`,
      };
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/login', agent, headers }, (res) => {
        res.resume();
        res.on('end', () => {
          if (res.statusCode === 200) latencies.push(performance.now() - started);
          resolve({ status: res.statusCode ?? 0, retryAfter: Number(res.headers['retry-after'] ?? 1) });
        });
      });
      req.on('error', reject);
      req.end(body);
    });
  const started = Date.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, client) => {
      while (Date.now() < deadline) {
        const { status, retryAfter } = await once(client);
        if (status === 503) {
          busy += 1;
          await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
        } else if (status !== 200) throw new Error(`login answered ${status}`);
      }
    }),
  );
  agent.destroy();
  const elapsed = (Date.now() - started) / 1000;
  return { connections, loginsPerSecond: latencies.length / elapsed, busyPerSecond: busy / elapsed, p50Ms: percentile(latencies, 50) };
}

export async function logins(redisUrl: string, options: { seconds: number; connections: number[]; serviceLog: string }): Promise<LoginBench> {
  const service = await startNode(
    `${process.env.BENCH_SERVICE_DIR ?? '.'}/dist/server.js`,
    {
      REDIS_URL: redisUrl,
      REDIS_KEY_PREFIX: 'benchlogin:',
      SESSION_SECRETS: 'bench-secret-'.padEnd(48, 'x'),
      PUBLIC_ORIGIN: 'https://localhost',
      ADMIN_USERNAME: 'bench-admin',
      ADMIN_PASSWORD: PASSWORD,
      NODE_ENV: 'production',
      // The hashing knobs, to compare settings (defaults otherwise: the shipped ones).
      ...Object.fromEntries(['HASH_CONCURRENCY', 'HASH_QUEUE_LIMIT'].flatMap((key) => (process.env[key] ? [[key, process.env[key]]] : []))),
    },
    { readyPath: '/healthz', logFile: options.serviceLog },
  );
  const base = `http://127.0.0.1:${service.port}`;
  const headers = { 'X-Forwarded-Proto': 'https' };
  try {
    await loginLoad(service.port, 2, 2); // warm-up
    const rows: LoginRow[] = [];
    for (const connections of options.connections) rows.push(await loginLoad(service.port, connections, options.seconds));
    const login = await fetch(`${base}/api/login`, {
      method: 'POST',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bench-admin', password: PASSWORD }),
    });
    const cookie = login.headers
      .getSetCookie()
      .find((c) => c.startsWith('__Host-sid='))!
      .split(';')[0]!;
    const me = { url: `${base}/api/me`, connections: 4, threads: 1, seconds: options.seconds, headers: { ...headers, Cookie: cookie } };
    const idle = await wrk(me);
    const floodConnections = 16;
    const [flooded] = await Promise.all([wrk(me), loginLoad(service.port, floodConnections, options.seconds + 1)]);
    return { rows, meP99IdleMs: idle.p99Ms, meP99FloodMs: flooded.p99Ms, floodConnections };
  } finally {
    await service.stop();
  }
}
