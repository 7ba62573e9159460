// (e) Logins per second as concurrency rises, straight at the service (the edge's own login
// rate limit would otherwise be what is measured), by clients that behave like browsers and
// scripts should: a 503 busy is retried after its Retry-After. And what a login flood does to
// signed-in reads: GET /api/me p99 while logins run flat out, against its p99 unloaded, read
// two ways:
// - paced: one signed-in user asking every PACE_MS, so the reads themselves do not load the
//   service: the latency a user sees;
// - saturating: wrk with 4 connections flat out, idle and during the flood: the reads use
//   all the CPU they can get, so this also says how much CPU the flood takes from them.
// Both are judged against the target.
import { httpClient } from '../testkit/http.ts';
import { createClient, percentile, sessionCookie } from './lib/http.ts';
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
  /** Paced probe (one user, one read every PACE_MS): p99 unloaded and during the flood. */
  meP99PacedIdleMs: number;
  meP99PacedFloodMs: number;
  /** Saturating wrk (4 connections flat out): p99 unloaded and during the flood. */
  meP99IdleMs: number;
  meP99FloodMs: number;
  floodConnections: number;
  paceMs: number;
}

const PASSWORD = 'correct horse battery staple, bench edition';
const PACE_MS = 10;

/** One signed-in user reading /api/me every PACE_MS for `seconds`: that read's p99. */
async function pacedProbe(port: number, cookie: string, seconds: number): Promise<number> {
  const client = createClient(port, { maxSockets: 1 });
  const latencies: number[] = [];
  const deadline = Date.now() + seconds * 1000;
  try {
    while (Date.now() < deadline) {
      const res = await client.send({ path: '/api/me', headers: { Cookie: cookie } });
      if (res.status !== 200) throw new Error(`paced probe: GET /api/me answered ${res.status}`);
      latencies.push(res.ms);
      await new Promise((resolve) => setTimeout(resolve, PACE_MS));
    }
  } finally {
    await client.close();
  }
  return percentile(latencies, 99);
}

/** `connections` clients logging in back to back for `seconds`; each honours Retry-After on 503. */
async function loginLoad(port: number, connections: number, seconds: number): Promise<LoginRow> {
  const client = httpClient({ origin: `http://127.0.0.1:${port}`, connections });
  const latencies: number[] = [];
  let busy = 0;
  const deadline = Date.now() + seconds * 1000;
  // Each client from its own address (the bench is the trusted loopback edge): the throttle
  // counts concurrent attempts per (account, address) before checking them, by design.
  const once = async (id: number) => {
    const res = await client.send('/api/login', {
      headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': `10.77.0.${id + 1}` },
      json: { username: 'bench-admin', password: PASSWORD },
    });
    if (res.status === 200) latencies.push(res.ms);
    return { status: res.status, retryAfter: Number(res.all('retry-after')[0] ?? 1) };
  };
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
  await client.close();
  const elapsed = (Date.now() - started) / 1000;
  return {
    connections,
    loginsPerSecond: latencies.length / elapsed,
    busyPerSecond: busy / elapsed,
    p50Ms: percentile(latencies, 50),
  };
}

export async function logins(
  redisUrl: string,
  options: { seconds: number; connections: number[]; serviceLog: string },
): Promise<LoginBench> {
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
      // The reader below signs itself up: the flood logs in as bench-admin, and 16 clients
      // logging in back to back would soon push any bench-admin session out of the
      // per-user session cap (the probe would read 401s).
      SIGNUP_ENABLED: 'true',
      // The hashing knobs, to compare settings (defaults otherwise: the shipped ones).
      ...Object.fromEntries(
        ['HASH_CONCURRENCY', 'HASH_QUEUE_LIMIT'].flatMap((key) => (process.env[key] ? [[key, process.env[key]]] : [])),
      ),
    },
    { readyPath: '/healthz', logFile: options.serviceLog },
  );
  const base = `http://127.0.0.1:${service.port}`;
  const headers = { 'X-Forwarded-Proto': 'https' };
  try {
    await loginLoad(service.port, 2, 2); // warm-up
    const rows: LoginRow[] = [];
    for (const connections of options.connections)
      rows.push(await loginLoad(service.port, connections, options.seconds));
    const client = createClient(service.port, { maxSockets: 1 });
    const reader = { username: 'bench-reader', password: PASSWORD };
    const signup = await client.send({ method: 'POST', path: '/api/register', body: reader });
    const login = await client.send({ method: 'POST', path: '/api/login', body: reader });
    await client.close();
    const cookie = sessionCookie(login);
    if (signup.status !== 201 || !cookie)
      throw new Error(`bench-reader: sign-up answered ${signup.status}, login ${login.status}`);
    const me = {
      url: `${base}/api/me`,
      connections: 4,
      threads: 1,
      seconds: options.seconds,
      headers: { ...headers, Cookie: cookie },
    };
    const floodConnections = 16;
    const flood = () => loginLoad(service.port, floodConnections, options.seconds + 1);
    const pacedIdle = await pacedProbe(service.port, cookie, options.seconds);
    const [pacedFlood] = await Promise.all([pacedProbe(service.port, cookie, options.seconds), flood()]);
    const idle = await wrk(me);
    const [flooded] = await Promise.all([wrk(me), flood()]);
    // A p99 of error answers would measure the wrong thing (it once did: 401s after the cap).
    for (const result of [idle, flooded])
      if (result.errors > 0) throw new Error(`GET /api/me under wrk: ${result.errors} answers were not 2xx`);
    return {
      rows,
      meP99PacedIdleMs: pacedIdle,
      meP99PacedFloodMs: pacedFlood,
      meP99IdleMs: idle.p99Ms,
      meP99FloodMs: flooded.p99Ms,
      floodConnections,
      paceMs: PACE_MS,
    };
  } finally {
    await service.stop();
  }
}
