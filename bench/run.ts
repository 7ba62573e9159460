#!/usr/bin/env node
// Benchmarks (make bench / npm run bench): login timing for unknown vs existing users,
// hashing under a login flood, and memory across thousands of requests. Real redis-server,
// the compiled service (dist/, run `npm run build` first) in its own process, real HTTP over
// loopback. It reports and prints ratios; it does not fail on slowness. It exits non-zero
// only when the service answers a 5xx other than the designed 503 busy, or cannot run.
import { existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { hashUnderLoad } from './hash-under-load.ts';
import { unexpected5xx } from './lib/http.ts';
import { startRedisServer } from '../ops/lib/redis-server.ts';
import { loginTiming } from './login-timing.ts';
import { memory } from './memory.ts';

/** Soft targets: outside them the verdict is WARN, never a failure. */
const TARGETS = {
  loginRatio: { min: 0.8, max: 1.25 },
  /** /api/me under the login flood vs under an equally large flood that never hashes. */
  hashFloodVsCheapFlood: { max: 2 },
  heapRatio: { max: 1.25 },
};

const ms = (v: number) => (Number.isFinite(v) ? `${v.toFixed(1)} ms` : '-');
const mb = (v: number) => `${(v / 2 ** 20).toFixed(1)} MB`;
const ratio = (v: number) => (Number.isFinite(v) ? v.toFixed(2) : '-');
const verdict = (ok: boolean) => (ok ? 'PASS' : 'WARN');

function table(rows: Array<Array<string | number | undefined>>) {
  const header = ['case', 'median', 'p90', 'n', 'ratio', 'target', 'verdict'];
  const all = [header, ...rows.map((r) => header.map((_, i) => String(r[i] ?? '')))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  return all.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')).join('\n');
}

async function main() {
  if (!existsSync(new URL('../dist/app.js', import.meta.url))) {
    throw new Error('dist/app.js is missing: run `npm run build` first (make bench does)');
  }
  const started = Date.now();
  const redis = await startRedisServer();
  try {
    process.stdout.write('running: login timing');
    const a = await loginTiming(redis.url);
    process.stdout.write(', hashing under load');
    const b = await hashUnderLoad(redis.url);
    process.stdout.write(', memory\n\n');
    const c = await memory(redis.url);

    const loginOk = a.ratio >= TARGETS.loginRatio.min && a.ratio <= TARGETS.loginRatio.max;
    const floodOk = b.ratioToCheap <= TARGETS.hashFloodVsCheapFlood.max;
    const heapOk = c.heapRatio <= TARGETS.heapRatio.max;
    const load = loadavg()[0] ?? 0;
    console.log(
      `authstack bench: node ${process.version}, ${cpus().length} CPUs, load ${load.toFixed(1)}, argon2id defaults (m=19456 KiB, t=2, p=1), loopback HTTP/1.1 keep-alive`,
    );
    if (load > cpus().length)
      console.log(`note: the machine is busy (load ${load.toFixed(1)} on ${cpus().length} CPUs): absolute times are inflated, ratios are noisier`);
    console.log('');
    console.log(
      table([
        ['(a) login, unknown user', ms(a.unknown.median), ms(a.unknown.p90), a.unknown.n],
        ['(a) login, wrong password (existing user)', ms(a.wrong.median), ms(a.wrong.p90), a.wrong.n],
        ['(a) unknown / wrong', '', '', '', ratio(a.ratio), `${TARGETS.loginRatio.min}-${TARGETS.loginRatio.max}`, verdict(loginOk)],
        [`(b) GET /api/me, idle`, ms(b.idle.median), ms(b.idle.p90), b.idle.n],
        [`(b) GET /api/me, ${b.inFlight} malformed logins in flight`, ms(b.cheapFlood.median), ms(b.cheapFlood.p90), b.cheapFlood.n],
        [`(b) GET /api/me, ${b.inFlight} logins in flight`, ms(b.flood.median), ms(b.flood.p90), b.flood.n],
        ['(b) login flood / idle', '', '', '', ratio(b.ratio), 'report', ''],
        ['(b) login flood / malformed flood', '', '', '', ratio(b.ratioToCheap), `<= ${TARGETS.hashFloodVsCheapFlood.max}`, verdict(floodOk)],
        ['(b) flood logins hashed (401)', ms(b.logins.acceptedMedian), ms(b.logins.acceptedP90), b.logins.rejected401],
        ['(b) flood logins refused (503 busy)', ms(b.logins.busyMedian), '', b.logins.busy503],
        [
          `(c) heapUsed after GC, before/after ${c.requests} req`,
          `${mb(c.before.heapUsed)} -> ${mb(c.after.heapUsed)}`,
          '',
          c.requests,
          ratio(c.heapRatio),
          `<= ${TARGETS.heapRatio.max}`,
          verdict(heapOk),
        ],
        [`(c) RSS, before/after ${c.requests} req`, `${mb(c.before.rss)} -> ${mb(c.after.rss)}`, '', c.requests, ratio(c.rssRatio), 'report', ''],
      ]),
    );
    console.log(
      [
        '',
        `(a) the first unknown-user login after start took ${ms(a.firstUnknownMs)} (the decoy hash is made at start-up, as in server.ts).`,
        `(b) HASH_CONCURRENCY=${b.concurrency}, HASH_QUEUE_LIMIT=${b.queueLimit}: ${b.logins.total} flood logins, ${b.logins.busy503} answered 503 busy, statuses ${JSON.stringify(b.logins.byStatus)}.`,
        `    The malformed flood is the event loop's own cost of ${b.inFlight} concurrent requests; the ratio to it is what hashing adds.`,
        `(c) ${c.requests} requests in ${c.seconds.toFixed(1)} s, statuses ${JSON.stringify(c.statuses)}${c.before.gc ? '' : ' (no gc(): heap figures include garbage)'}.`,
        `total ${((Date.now() - started) / 1000).toFixed(1)} s`,
      ].join('\n'),
    );
  } finally {
    await redis.stop();
  }
  if (unexpected5xx.length > 0) {
    console.error(`\nFAIL: ${unexpected5xx.length} unexpected 5xx answer(s):\n  ${unexpected5xx.slice(0, 10).join('\n  ')}`);
    process.exitCode = 1;
  }
}

main().catch((error) => {
  console.error(`bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exitCode = 1;
});
