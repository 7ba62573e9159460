import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEnvFile } from '../testkit/env-file.ts';
import { httpClient } from '../testkit/http.ts';
import { fromRepo, repoRoot } from '../testkit/repo.ts';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';

const log = (message: string) => process.stderr.write(`soak: ${message}\n`);
const capture = async (command: string, args: string[]) => (await promisify(execFile)(command, args)).stdout.trim();

/** Resident memory of a process (VmRSS) in bytes. */
function rss(pid: number): number {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) * 1024;
}

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
      return (JSON.parse(readFileSync(join(runDir, 'service.process.json'), 'utf8')) as { pid: number }).pid;
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
  const { send } = httpClient({ caFiles: [smoke.SMOKE_CA_FILE || join(repoRoot, 'certs/ca.crt')], timeoutMs: 15_000 });
  const credentials = { username: env.ADMIN_USERNAME ?? 'admin', password: env.ADMIN_PASSWORD ?? '' };
  const counts = { requests: 0, errors: 0 };
  const errorSamples: string[] = [];
  const deadline = Date.now() + options.seconds * 1000;
  const expect = async <T extends { status: number; body: string }>(
    what: string,
    status: number,
    call: Promise<T>,
  ): Promise<T | undefined> => {
    counts.requests += 1;
    try {
      const response = await call;
      if (response.status === status) return response;
      counts.errors += 1;
      if (errorSamples.length < 10) errorSamples.push(`${what}: ${response.status} ${response.body.slice(0, 100)}`);
    } catch (error) {
      counts.errors += 1;
      if (errorSamples.length < 10) errorSamples.push(`${what}: ${String(error)}`);
    }
    return undefined;
  };
  const user = async () => {
    while (Date.now() < deadline) {
      const cycleStarted = Date.now();
      const login = await expect('login', 200, send(`${base}/api/login`, { json: credentials }));
      const cookie = login?.cookie();
      if (cookie) {
        for (let i = 0; i < 40 && Date.now() < deadline; i += 1)
          await expect('GET /api/me', 200, send(`${base}/api/me`, { headers: { cookie } }));
        for (let i = 0; i < 3; i += 1)
          await expect('GET /api/sessions', 200, send(`${base}/api/sessions`, { headers: { cookie } }));
        await expect('logout', 204, send(`${base}/api/logout`, { method: 'POST', headers: { cookie } }));
      }
      // Paced: with the default 4 users this stays under the edge's 10 logins/s per address.
      await sleep(Math.max(0, 2000 - (Date.now() - cycleStarted)));
    }
  };
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
  await Promise.all([sampler, ...Array.from({ length: options.users }, user)]);
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
  process.stdout.write(
    `\nrequests ${counts.requests}, errors ${counts.errors}${errorSamples.length ? ` (${errorSamples.join('; ')})` : ''}\n`,
  );
  process.stdout.write(`restarts ${restarts}, OOM killed ${after.oomKilled}\n`);
  process.stdout.write(
    `RSS second minute ${mb(second)} MB, last minute ${mb(last)} MB: ${ratio.toFixed(2)}x (<= 1.1)\n`,
  );
  const ok = counts.errors === 0 && restarts === 0 && !after.oomKilled && ratio <= 1.1;
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
