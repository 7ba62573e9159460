import { randomBytes } from 'node:crypto';
import { httpClient, type HttpClient } from '../../testkit/http.ts';
import { CliError, say } from '../lib/log.ts';
import type { Phases } from '../lib/phases.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { capture, run, sleep, waitFor } from '../lib/run.ts';
import { readEnvFile } from '../../testkit/env-file.ts';
import type { SwarmStack } from './swarm-stack.ts';
import { Traffic, isFailure, summarize, type Credentials, type Outcome } from './traffic.ts';

const log = (message: string) => say('drill', message);

/** Clients of the load in every drill. */
const CLIENTS = 4;
/**
 * Replica loss: requests in flight on the killed replica may fail (nginx never replays a POST
 * it has sent), at most one per client, and only until nginx has marked the replica failed and
 * re-resolved the service (resolver valid=2s): this many seconds after the kill.
 */
const REPLICA_LOSS_WINDOW_S = 5;
/** Redis failover: the longest run of 503s allowed (down-after 2 s + election + promotion + the service's rediscovery). */
const FAILOVER_503_BOUND_S = 15;

/**
 * The drills CI runs on the swarm stack (issue: beyond one machine), each under load through
 * the edge, each printing its figures, each failing with the reason:
 *   1. rolling update (make swarm-update): 0 failed requests, 0 lost sessions;
 *   2. replica loss (docker kill of a service replica): failures only in flight at the kill,
 *      none after the window; swarm replaces the replica;
 *   3. Redis failover (docker kill of the primary): 503 `unavailable` for a bounded time, no
 *      other 5xx, no hang; Sentinel promotes the replica, the service follows without a
 *      restart; sessions and users from before still work; /readyz follows.
 */
export async function runDrills(swarm: SwarmStack, phases: Phases): Promise<void> {
  const { send } = httpClient({ caFiles: [swarm.caFile] });
  const base = swarm.origin;
  const users = await phases.run('swarm: drill users', () => createUsers(swarm, CLIENTS + 2));
  const clients = users.slice(0, CLIENTS);
  // Sessions that must outlive every drill: signed in once, read after each.
  const keepers = await Promise.all(
    users.slice(CLIENTS).map(async (user) => ({ user, cookie: await login(send, base, user) })),
  );
  const checkKeepers = async (when: string) => {
    for (const { user, cookie } of keepers) {
      const response = await send(`${base}/api/me`, { headers: { cookie } });
      if (response.status !== 200 || response.json<{ user: { username: string } }>().user.username !== user.username) {
        throw new CliError(
          `${when}: the session of ${user.username} from before the drills answers ${response.status} ${response.body}`,
        );
      }
    }
    log(`${when}: the ${keepers.length} sessions from before the drills still work`);
  };

  await phases.run('swarm: drill rolling update', async () => {
    const traffic = new Traffic(base, swarm.caFile, clients);
    traffic.start();
    await sleep(3000);
    const began = traffic.now();
    await run('make', ['-s', 'swarm-update'], {
      cwd: repoRoot,
      stdio: 'inherit',
      env: { ...process.env, ENV_FILE: swarm.docker.envFile },
    });
    const ended = traffic.now();
    await sleep(3000);
    const outcomes = await traffic.stop();
    report('rolling update', outcomes, [
      `update took ${((ended - began) / 1000).toFixed(0)} s; replicas ${await swarm.replicas('service')}`,
    ]);
    const failures = outcomes.filter(isFailure);
    if (failures.length > 0)
      throw new CliError(`rolling update: ${failures.length} failed requests (expected 0):\n${describe(failures)}`);
    await checkKeepers('after the rolling update');
  });

  await phases.run('swarm: drill replica loss', async () => {
    const before = await swarm.containersOf('service');
    const traffic = new Traffic(base, swarm.caFile, clients);
    traffic.start();
    await sleep(3000);
    const killedAt = traffic.now();
    await run('docker', ['kill', before[0]!]);
    const replaced = await waitFor(
      async () => {
        const now = await swarm.containersOf('service');
        return now.length >= before.length &&
          !now.includes(before[0]!) &&
          (await swarm.replicas('service')).startsWith(`${before.length}/`)
          ? now
          : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    const replacedAt = traffic.now();
    await sleep(5000);
    const outcomes = await traffic.stop();
    const failures = outcomes.filter(isFailure);
    const late = failures.filter((o) => o.at < killedAt || o.at > killedAt + REPLICA_LOSS_WINDOW_S * 1000);
    report('replica loss', outcomes, [
      `killed 1 of ${before.length} replicas; swarm replaced it in ${((replacedAt - killedAt) / 1000).toFixed(0)} s`,
      `allowed: at most ${CLIENTS} failures (one in flight per client), within ${REPLICA_LOSS_WINDOW_S} s of the kill; got ${failures.length}, ${late.length} outside`,
    ]);
    if (!replaced) throw new CliError('replica loss: swarm did not replace the killed replica within 90 s');
    if (failures.length > CLIENTS || late.length > 0)
      throw new CliError(`replica loss: failures beyond the bound:\n${describe(failures)}`);
    await checkKeepers('after the replica loss');
  });

  await phases.run('swarm: drill redis failover', async () => {
    const serviceContainers = (await swarm.containersOf('service')).sort().join(',');
    const primary = await sentinelPrimary(swarm);
    const victim = await containerWithAddress(swarm, primary);
    // Written just before the failover: with WAIT 1 acknowledged by the replica, so it survives.
    const [fresh] = await createUsers(swarm, 1);
    const freshCookie = await login(send, base, fresh!);
    const traffic = new Traffic(base, swarm.caFile, clients);
    traffic.start({ readyz: true });
    await sleep(3000);
    const killedAt = traffic.now();
    log(`killing the Redis primary ${primary} (${victim.slice(0, 12)})`);
    await run('docker', ['kill', victim]);
    const promoted = await waitFor(
      async () => ((await sentinelPrimary(swarm).catch(() => primary)) !== primary ? true : undefined),
      {
        timeoutMs: 60_000,
        intervalMs: 500,
      },
    );
    const promotedAt = traffic.now();
    // Steady again: a while with nothing but success, then the readiness record is complete.
    await waitFor(
      async () =>
        traffic.outcomes.filter((o) => o.at > traffic.now() - 5000 && o.at > promotedAt).some(isFailure)
          ? undefined
          : true,
      {
        timeoutMs: 60_000,
        intervalMs: 1000,
      },
    );
    await sleep(5000);
    const outcomes = await traffic.stop();

    const failures = outcomes.filter(isFailure);
    const unavailable = failures.filter((o) => o.status === 503);
    const other = failures.filter((o) => o.status !== 503);
    const window = unavailable.length
      ? (Math.max(...unavailable.map((o) => o.at + o.ms)) - Math.min(...unavailable.map((o) => o.at))) / 1000
      : 0;
    const readyz = outcomes.filter((o) => o.kind === 'readyz' && o.at >= killedAt);
    const notReady = readyz.filter((o) => o.status !== 200);
    const readyAgain = readyz.slice(-4).every((o) => o.status === 200);
    report('redis failover', outcomes, [
      `primary ${primary} killed; Sentinel promoted ${promoted ? await sentinelPrimary(swarm) : 'nothing'} after ${((promotedAt - killedAt) / 1000).toFixed(1)} s`,
      `503 unavailable: ${unavailable.length} answers over ${window.toFixed(1)} s (bound ${FAILOVER_503_BOUND_S} s); other failures ${other.length}`,
      `/readyz: ${notReady.length} of ${readyz.length} polls not ready after the kill, ${readyAgain ? 'ready again' : 'NOT ready again'}`,
    ]);
    if (!promoted) throw new CliError('redis failover: Sentinel promoted no replica within 60 s');
    if (other.length > 0) throw new CliError(`redis failover: failures other than 503:\n${describe(other)}`);
    if (window > FAILOVER_503_BOUND_S)
      throw new CliError(`redis failover: 503s for ${window.toFixed(1)} s (bound ${FAILOVER_503_BOUND_S} s)`);
    if (unavailable.length > 0 && notReady.length === 0)
      throw new CliError('redis failover: requests saw 503 but /readyz never said not ready');
    if (!readyAgain) throw new CliError('redis failover: /readyz is not ready again');
    if ((await swarm.containersOf('service')).sort().join(',') !== serviceContainers)
      throw new CliError('redis failover: service replicas were restarted');
    log('the service followed the new primary without a restart');
    await checkKeepers('after the Redis failover');
    const me = await send(`${base}/api/me`, { headers: { cookie: freshCookie } });
    if (me.status !== 200) throw new CliError(`redis failover: the session made just before it answers ${me.status}`);
    await login(send, base, fresh!);
    log(`the user and session written just before the failover survived (${fresh!.username})`);
  });
}

async function login(send: HttpClient['send'], base: string, user: Credentials): Promise<string> {
  const response = await send(`${base}/api/login`, { json: user });
  const cookie = response.cookie();
  if (response.status !== 200 || !cookie)
    throw new CliError(`login as ${user.username}: ${response.status} ${response.body}`);
  return cookie;
}

/** Users through the service's own CLI in a replica (the password on stdin). */
async function createUsers(swarm: SwarmStack, count: number): Promise<Credentials[]> {
  const users: Credentials[] = [];
  for (let i = 0; i < count; i += 1) {
    const user = {
      username: `drill-${randomBytes(4).toString('hex')}`,
      password: randomBytes(18).toString('base64url'),
    };
    if ((await swarm.users(['add', user.username], `${user.password}\n`)) !== 0)
      throw new CliError(`could not add ${user.username}`);
    users.push(user);
  }
  return users;
}

/** The primary's address, as the Sentinels name it. */
async function sentinelPrimary(swarm: SwarmStack): Promise<string> {
  const [sentinel] = await swarm.containersOf('sentinel-1');
  if (!sentinel) throw new CliError('no sentinel-1 container');
  const password = readEnvFile(swarm.docker.envFile).REDIS_PASSWORD ?? '';
  // `-e NAME` without a value: docker takes it from its own environment, so the password is in
  // no command line (every local user can read /proc/*/cmdline).
  const out = await capture(
    'docker',
    [
      'exec',
      '-e',
      'REDISCLI_AUTH',
      sentinel,
      'redis-cli',
      '--no-auth-warning',
      '-p',
      '26379',
      'SENTINEL',
      'get-master-addr-by-name',
      'authstack',
    ],
    { env: { ...process.env, REDISCLI_AUTH: password } },
  );
  const address = out.split('\n')[0]?.trim();
  if (!address) throw new CliError(`the Sentinels name no primary: ${out}`);
  return address;
}

async function containerWithAddress(swarm: SwarmStack, address: string): Promise<string> {
  for (const service of ['redis-a', 'redis-b']) {
    for (const id of await swarm.containersOf(service)) {
      const addresses = await capture('docker', [
        'inspect',
        '-f',
        '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}',
        id,
      ]);
      if (addresses.split(' ').includes(address)) return id;
    }
  }
  throw new CliError(`no Redis container has the primary's address ${address}`);
}

function report(drill: string, outcomes: Outcome[], figures: string[]): void {
  process.stderr.write(
    `\n---- drill: ${drill}\n${[...summarize(outcomes), ...figures].map((line) => `  ${line}`).join('\n')}\n`,
  );
}

function describe(failures: Outcome[]): string {
  return failures
    .slice(0, 20)
    .map((o) => `  t=${(o.at / 1000).toFixed(1)}s client ${o.client} ${o.kind}: ${o.status || o.error} (${o.ms} ms)`)
    .join('\n');
}
