import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEnvFile } from '../testkit/env-file.ts';
import { Traffic, isFailure, summarize } from '../testkit/load.ts';
import { rssBytes as rss } from '../testkit/proc.ts';
import { fromRepo, repoRoot } from '../testkit/repo.ts';
import { capture, sleep } from '../testkit/run.ts';

const log = (message: string) => process.stderr.write(`soak: ${message}\n`);

export interface SoakTarget {
  /** The service process to watch (host PID; a container's processes are visible from the host). */
  servicePid(): Promise<number>;
  /** Restarts and OOM kills so far (containers); 0 natively. */
  restarts(): Promise<{ restarts: number; oomKilled: boolean }>;
}

/** The node process of the compose stack's service container (PID 1 there is tini). */
export function containerTarget(containerId: string): SoakTarget {
  return {
    async servicePid() {
      const init = Number(await capture('docker', ['inspect', '-f', '{{.State.Pid}}', containerId]));
      const children = readFileSync(`/proc/${init}/task/${init}/children`, 'utf8')
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map(Number);
      return children[0] ?? init;
    },
    async restarts() {
      const [count, oom] = (
        await capture('docker', ['inspect', '-f', '{{.RestartCount}} {{.State.OOMKilled}}', containerId])
      ).split(' ');
      return { restarts: Number(count), oomKilled: oom === 'true' };
    },
  };
}

export function nativeTarget(runDir: string): SoakTarget {
  return {
    async servicePid() {
      // The pidfile start-stop-daemon keeps for the service (ops/native/daemons.ts).
      return Number(readFileSync(join(runDir, 'service.pid'), 'utf8').trim());
    },
    async restarts() {
      return { restarts: 0, oomKilled: false };
    },
  };
}

/**
 * A mixed soak against a running stack through its edge: virtual users log in, read /api/me and
 * /api/sessions, and log out, over and over (paced under the edge's login rate limit), while the
 * service's RSS is sampled every 10 s. Passes with 0 errors, 0 restarts or OOM kills, and the
 * last minute's RSS at most 1.1x the second minute's (a leak keeps growing; warm-up does not).
 */
export async function soak(target: SoakTarget, options: { seconds: number; users: number }): Promise<boolean> {
  const smoke = readEnvFile(fromRepo('.run/smoke.env'));
  const base = smoke.BASE_URL;
  if (!base) throw new Error('no running stack found (.run/smoke.env): make up first');
  const env = readEnvFile(fromRepo(smoke.SMOKE_ENV_FILE ?? '.env'));
  const caFile = smoke.SMOKE_CA_FILE || join(repoRoot, 'certs/ca.crt');
  const credentials = { username: env.ADMIN_USERNAME ?? 'admin', password: env.ADMIN_PASSWORD ?? '' };
  const deadline = Date.now() + options.seconds * 1000;
  // Paced: with the default 4 users, a sign-in every 2 s each stays under the edge's 10 logins/s per address.
  const shape = { reads: 40, pauseMs: 0, sessionReads: 3, minCycleMs: 2000 };
  const traffic = new Traffic(base, caFile, Array(options.users).fill(credentials), shape);
  const pid = await target.servicePid();
  const before = await target.restarts();
  const samples: Array<{ second: number; rss: number }> = [];
  const started = Date.now();
  const sampler = (async () => {
    while (Date.now() < deadline) {
      samples.push({ second: Math.round((Date.now() - started) / 1000), rss: rss(pid) });
      await sleep(10_000);
    }
  })();
  log(`${options.users} users for ${options.seconds}s against ${base} (service pid ${pid})`);
  traffic.start();
  await sampler;
  const outcomes = await traffic.stop();
  const after = await target.restarts();

  const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(1);
  const average = (from: number, to: number) => {
    const window = samples.filter((s) => s.second >= from && s.second < to);
    return window.reduce((sum, s) => sum + s.rss, 0) / Math.max(1, window.length);
  };
  const second = average(60, 120);
  const last = average(options.seconds - 60, options.seconds + 1);
  const ratio = last / second;
  const restarts = after.restarts - before.restarts;
  process.stdout.write(
    `\nRSS of the service (MB), every 10 s:\n${samples.map((s) => `  ${String(s.second).padStart(4)} s  ${mb(s.rss).padStart(7)}  ${'#'.repeat(Math.round(s.rss / 2 ** 21))}`).join('\n')}\n`,
  );
  const errors = outcomes.filter(isFailure);
  const samplesOf = errors.slice(0, 10).map((o) => `${o.kind}: ${o.status || o.error}`);
  process.stdout.write(`\n${summarize(outcomes).join('\n')}${samplesOf.length ? `\n(${samplesOf.join('; ')})` : ''}\n`);
  process.stdout.write(`restarts ${restarts}, OOM killed ${after.oomKilled}\n`);
  process.stdout.write(
    `RSS second minute ${mb(second)} MB, last minute ${mb(last)} MB: ${ratio.toFixed(2)}x (<= 1.1)\n`,
  );
  const ok = errors.length === 0 && restarts === 0 && !after.oomKilled && ratio <= 1.1;
  process.stdout.write(`soak: ${ok ? 'PASS' : 'FAIL'}\n`);
  return ok;
}

/** Which stack runs (the same rule as the other stack commands) and its service process. */
export async function soakTargetFor(
  mode: 'docker' | 'native',
  containerId: () => Promise<string | undefined>,
  runDir: string,
): Promise<SoakTarget> {
  if (mode === 'native') return nativeTarget(runDir);
  const id = await containerId();
  if (!id) throw new Error('the service container is not running (make up)');
  await capture('docker', ['inspect', id]);
  return containerTarget(id);
}
