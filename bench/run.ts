// Benchmarks (make bench / npm run bench), on one machine in one run, printed as tables with
// ratios and soft targets (issue #11 and earlier):
//   (d) GET /api/me through the project's nginx against bare Express and a tutorial-style
//       express-session + connect-redis app behind the same nginx (wrk), with Node CPU per
//       request and the Redis work of one read;
//   (e) logins per second from 2 to 64 concurrent clients, and /api/me p99 during a login flood;
//   (a) login timing for unknown vs existing users, (b) hashing under a login flood,
//   (c) memory across thousands of requests.
// Real redis-server, real nginx, the built service (dist/). It prints; it does not fail on
// slowness (BENCH_CHECK=1, i.e. make bench-check, exits 1 when a target is missed, for humans).
// It exits non-zero when the service answers an unexpected 5xx. BENCH_QUICK=1: one short pass.
import { existsSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import argon2 from 'argon2';
import { startRedisServer } from '../testkit/redis-server.ts';
import { hashUnderLoad } from './hash-under-load.ts';
import { median, unexpected5xx } from './lib/http.ts';
import { loginTiming } from './login-timing.ts';
import { logins } from './logins.ts';
import { memory } from './memory.ts';
import { forwardAuth } from './forward-auth.ts';
import { throughput, type ThroughputRow } from './throughput.ts';

const quick = process.env.BENCH_QUICK === '1';
const TARGETS = {
  /** authstack GET /api/me req/s against bare Express "ok", behind the same nginx. */
  vsBare: 0.5,
  /** ... against the tutorial express-session + connect-redis GET /me. */
  vsTutorial: 1.0,
  /** authstack p99 at c64 against bare Express's. */
  p99VsBare: 2,
  loginsPerSecond: 75,
  /** /api/me p99 during a login flood against unloaded. */
  floodP99: 3,
  loginRatio: { min: 0.8, max: 1.25 },
  hashFloodVsCheapFlood: 2,
  heapRatio: 1.25,
  /** The same app through protect.conf (auth_request) against without, behind one nginx. */
  protectedVsOpen: 0.5,
  /** GET /api/verify req/s against GET /api/me (one session read each). */
  verifyVsMe: 1.0,
};

const misses: string[] = [];
function verdict(ok: boolean, what: string): string {
  if (!ok) misses.push(what);
  return ok ? 'PASS' : 'MISS';
}
const n = (v: number, digits = 0) => (Number.isFinite(v) ? v.toFixed(digits) : '-');
const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : '-');
const mb = (v: number) => `${(v / 2 ** 20).toFixed(1)} MB`;

function table(header: string[], rows: Array<Array<string | number | undefined>>): string {
  const all = [header, ...rows.map((r) => header.map((_, i) => String(r[i] ?? '')))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all
    .map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  '))
    .join('\n');
}

/** One argon2id verify at the shipped parameters, single-threaded: what bounds logins/s here. */
async function hashMs(): Promise<number> {
  const options = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;
  const hash = await argon2.hash('a bench password, long enough', options);
  const times: number[] = [];
  for (let i = 0; i < (quick ? 5 : 15); i += 1) {
    const started = performance.now();
    await argon2.verify(hash, 'a bench password, long enough');
    times.push(performance.now() - started);
  }
  return median(times);
}

async function main() {
  if (!existsSync(new URL('../dist/server.js', import.meta.url)))
    throw new Error('dist/ is missing: run `npm run build` first (make bench does)');
  if (!existsSync(new URL('./node_modules/express-session', import.meta.url)))
    throw new Error('bench/node_modules is missing: make bench installs the reference apps (npm ci --prefix bench)');
  const started = Date.now();
  const serviceLog = join(tmpdir(), `authstack-bench-${process.pid}.log`);
  const redis = await startRedisServer();
  const out: string[] = [];
  try {
    const passes = quick ? 1 : 3;
    const seconds = quick ? 4 : 10;
    process.stdout.write(`running (${quick ? 'quick: 1 pass of 4 s' : '3 passes of 2 s warm-up + 10 s'}): throughput`);
    const { rows, redis: redisWork } = await throughput(redis.url, {
      passes,
      warmupSeconds: 2,
      seconds,
      connections: [16, 64],
      serviceLog,
    });
    process.stdout.write(', forward auth');
    const forward = await forwardAuth(redis.url, { passes, warmupSeconds: 2, seconds, connections: [64], serviceLog });
    process.stdout.write(', logins');
    const loginBench = await logins(redis.url, {
      seconds: quick ? 3 : 6,
      connections: [2, 4, 8, 16, 32, 64],
      serviceLog,
    });
    const single = await hashMs();
    process.stdout.write(', login timing');
    const a = await loginTiming(redis.url);
    process.stdout.write(', hashing under load');
    const b = await hashUnderLoad(redis.url);
    process.stdout.write(', memory\n\n');
    const c = await memory(redis.url);

    const load = loadavg()[0] ?? 0;
    out.push(
      `authstack bench: node ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), load ${load.toFixed(1)}; argon2id m=19456 KiB t=2 p=1`,
    );
    if (load > cpus().length)
      out.push(`note: the machine is busy (load ${load.toFixed(1)}): absolute numbers are inflated, ratios noisier`);

    const row = (app: ThroughputRow['app'], c: number) => rows.find((r) => r.app === app && r.connections === c)!;
    const lines: Array<Array<string | number | undefined>> = [];
    for (const connections of [16, 64]) {
      const bare = row('bare', connections);
      const tutorial = row('tutorial', connections);
      const auth = row('authstack', connections);
      for (const r of [bare, tutorial, auth]) {
        const scenario = {
          bare: 'bare Express GET / "ok"',
          tutorial: 'tutorial express-session GET /me',
          authstack: 'authstack GET /api/me',
        }[r.app];
        const range = r.passes.length > 1 ? ` [${n(Math.min(...r.passes))}-${n(Math.max(...r.passes))}]` : '';
        lines.push([
          `${scenario}, c${connections}`,
          `${n(r.rps)}${range}`,
          ms(r.p50Ms),
          ms(r.p99Ms),
          `${n(r.cpuUsPerRequest)} us`,
          r.app === 'authstack' ? '' : '',
          r.errors,
        ]);
      }
      lines.push([
        `  authstack / bare (>= ${TARGETS.vsBare})`,
        '',
        '',
        '',
        '',
        `${n(auth.rps / bare.rps, 2)} ${verdict(auth.rps / bare.rps >= TARGETS.vsBare, `c${connections} vs bare`)}`,
        '',
      ]);
      lines.push([
        `  authstack / tutorial (>= ${TARGETS.vsTutorial})`,
        '',
        '',
        '',
        '',
        `${n(auth.rps / tutorial.rps, 2)} ${verdict(auth.rps / tutorial.rps >= TARGETS.vsTutorial, `c${connections} vs tutorial`)}`,
        '',
      ]);
      if (connections === 64) {
        lines.push([
          `  p99 authstack / bare (<= ${TARGETS.p99VsBare})`,
          '',
          '',
          '',
          '',
          `${n(auth.p99Ms / bare.p99Ms, 2)} ${verdict(auth.p99Ms / bare.p99Ms <= TARGETS.p99VsBare, 'p99 c64')}`,
          '',
        ]);
      }
    }
    out.push(
      '',
      '(d) signed-in read behind the same nginx (TLS 1.3, keepalive upstream), wrk -t2; req/s median [range of passes]',
    );
    out.push(table(['scenario', 'req/s', 'p50', 'p99', 'Node CPU/req', 'ratio', 'errors'], lines));
    out.push(
      '',
      table(
        ['Redis work of one read', 'round trips', 'writes'],
        redisWork.map((w) => [
          w.app === 'authstack' ? 'authstack GET /api/me' : 'tutorial GET /me',
          n(w.roundTripsPerRequest, 2),
          n(w.writesPerRequest, 3),
        ]),
      ),
    );
    const auth = redisWork.find((w) => w.app === 'authstack');
    if (auth)
      out.push(
        `  authstack: at most 1 round trip and a write at most once a minute per session: ${verdict(auth.roundTripsPerRequest <= 1.01 && auth.writesPerRequest < 0.01, 'redis work')}`,
      );

    const fa = (app: (typeof forward)[number]['app']) => forward.find((r) => r.app === app)!;
    const [open, protectedApp, me, verify] = (
      ['open app', 'protected app', 'authstack /api/me', 'authstack /api/verify'] as const
    ).map(fa);
    out.push('', '(f) forward auth behind one nginx, c64: the same bare-Express app with and without auth_request');
    out.push(
      table(
        ['scenario', 'req/s', 'p50', 'p99', 'Node CPU/req', 'ratio', 'errors'],
        [
          ...forward.map((r) => [
            r.app,
            n(r.rps),
            ms(r.p50Ms),
            ms(r.p99Ms),
            `${n(r.cpuUsPerRequest)} us`,
            '',
            r.errors,
          ]),
          [
            `  protected / open (>= ${TARGETS.protectedVsOpen})`,
            '',
            '',
            '',
            '',
            `${n(protectedApp!.rps / open!.rps, 2)} ${verdict(protectedApp!.rps / open!.rps >= TARGETS.protectedVsOpen, 'protected vs open')}`,
            '',
          ],
          [
            `  /api/verify / /api/me (>= ${TARGETS.verifyVsMe})`,
            '',
            '',
            '',
            '',
            `${n(verify!.rps / me!.rps, 2)} ${verdict(verify!.rps / me!.rps >= TARGETS.verifyVsMe, 'verify vs me')}`,
            '',
          ],
        ],
      ),
    );

    const capacity = (availableParallelism() * 1000) / single;
    out.push(
      '',
      `(e) logins straight at the service; clients honour Retry-After; one argon2id verify takes ${ms(single)} here, so ${availableParallelism()} cores hash at most ${n(capacity)}/s`,
    );
    out.push(
      table(
        ['concurrent clients', 'logins/s', 'of capacity', '503 busy/s', `>= ${TARGETS.loginsPerSecond}/s`],
        loginBench.rows.map((r) => [
          r.connections,
          n(r.loginsPerSecond, 1),
          `${n((100 * r.loginsPerSecond) / capacity)}%`,
          n(r.busyPerSecond, 1),
          verdict(r.loginsPerSecond >= TARGETS.loginsPerSecond, `logins at c${r.connections}`),
        ]),
      ),
    );
    const pacedRatio = loginBench.meP99PacedFloodMs / loginBench.meP99PacedIdleMs;
    const floodRatio = loginBench.meP99FloodMs / loginBench.meP99IdleMs;
    out.push(
      `  GET /api/me p99, one user every ${loginBench.paceMs} ms: ${ms(loginBench.meP99PacedIdleMs)} unloaded, ${ms(loginBench.meP99PacedFloodMs)} during ${loginBench.floodConnections} clients logging in: ${n(pacedRatio, 2)}x (<= ${TARGETS.floodP99}) ${verdict(pacedRatio <= TARGETS.floodP99, 'p99 during login flood')}`,
      `  GET /api/me p99, wrk c4 flat out: ${ms(loginBench.meP99IdleMs)} unloaded, ${ms(loginBench.meP99FloodMs)} during the flood: ${n(floodRatio, 2)}x (<= ${TARGETS.floodP99}) ${verdict(floodRatio <= TARGETS.floodP99, 'p99 during login flood, saturating')}`,
    );

    out.push('', '(a)-(c) earlier targets');
    out.push(
      table(
        ['case', 'median', 'p90', 'n', 'ratio', 'verdict'],
        [
          ['(a) login, unknown user', ms(a.unknown.median), ms(a.unknown.p90), a.unknown.n],
          ['(a) login, wrong password (existing user)', ms(a.wrong.median), ms(a.wrong.p90), a.wrong.n],
          [
            '(a) unknown / wrong (0.8-1.25)',
            '',
            '',
            '',
            n(a.ratio, 2),
            verdict(a.ratio >= TARGETS.loginRatio.min && a.ratio <= TARGETS.loginRatio.max, 'login timing'),
          ],
          [
            `(b) GET /api/me, ${b.inFlight} malformed logins in flight`,
            ms(b.cheapFlood.median),
            ms(b.cheapFlood.p90),
            b.cheapFlood.n,
          ],
          [`(b) GET /api/me, ${b.inFlight} logins in flight`, ms(b.flood.median), ms(b.flood.p90), b.flood.n],
          [
            `(b) login flood / malformed flood (<= ${TARGETS.hashFloodVsCheapFlood})`,
            '',
            '',
            '',
            n(b.ratioToCheap, 2),
            verdict(b.ratioToCheap <= TARGETS.hashFloodVsCheapFlood, 'hashing under load'),
          ],
          [
            `(c) heapUsed after GC, before/after ${c.requests} req`,
            `${mb(c.before.heapUsed)} -> ${mb(c.after.heapUsed)}`,
            '',
            c.requests,
            n(c.heapRatio, 2),
            verdict(c.heapRatio <= TARGETS.heapRatio, 'heap'),
          ],
        ],
      ),
    );
    out.push('', `total ${((Date.now() - started) / 1000).toFixed(0)} s`);
    process.stdout.write(`${out.join('\n')}\n`);
  } finally {
    await redis.stop();
  }
  if (unexpected5xx.length > 0) {
    console.error(
      `\nFAIL: ${unexpected5xx.length} unexpected 5xx answer(s):\n  ${unexpected5xx.slice(0, 10).join('\n  ')}`,
    );
    process.exitCode = 1;
  }
  if (misses.length > 0) {
    process.stdout.write(`\ntargets missed: ${misses.join(', ')}\n`);
    if (process.env.BENCH_CHECK === '1') process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
