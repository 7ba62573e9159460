import { CliError } from '../lib/log.ts';
import type { Phases } from '../lib/phases.ts';
import { run, sleep, waitFor } from '../lib/run.ts';
import {
  CLIENTS,
  DrillKit,
  containerWithAddress,
  describe,
  log,
  report,
  rollingUpdateDrill,
  sentinelPrimary,
} from './drill-kit.ts';
import { runNodeDrills } from './node-drills.ts';
import type { SwarmStack } from './swarm-stack.ts';
import { isFailure } from './traffic.ts';

/**
 * Replica loss: requests in flight on the killed replica may fail (nginx never replays a POST
 * it has sent), at most one per client, and only until nginx has marked the replica failed and
 * re-resolved the service (resolver valid=2s): this many seconds after the kill.
 */
const REPLICA_LOSS_WINDOW_S = 5;
/** Redis failover: the longest run of 503s allowed (down-after 2 s + election + promotion + the service's rediscovery). */
const FAILOVER_503_BOUND_S = 15;

/**
 * The drills of the swarm that runs. The cluster's are in node-drills.ts. The single-node
 * swarm's, each under load through the edge, each printing its figures, each failing with the
 * reason:
 *   1. rolling update (make swarm-update): 0 failed requests, 0 lost sessions;
 *   2. replica loss (docker kill of a service replica): failures only in flight at the kill,
 *      none after the window; swarm replaces the replica;
 *   3. Redis failover (docker kill of the primary): 503 `unavailable` for a bounded time, no
 *      other 5xx, no hang; Sentinel promotes the replica, the service follows without a
 *      restart; sessions and users from before still work; /readyz follows.
 */
export async function runDrills(swarm: SwarmStack, phases: Phases): Promise<void> {
  if (await swarm.isMultiNode()) return runNodeDrills(swarm, phases);
  const kit = new DrillKit(swarm, phases, (await swarm.edges())[0]!);
  await kit.prepare();
  await rollingUpdateDrill(kit);
  const ids = async (service: string) => (await swarm.containersOf(service)).map((c) => c.id);

  await phases.run('swarm: drill replica loss', async () => {
    const before = await ids('service');
    const traffic = kit.traffic();
    traffic.start();
    await sleep(3000);
    const killedAt = traffic.now();
    await run('docker', ['kill', before[0]!]);
    const replaced = await waitFor(
      async () => {
        const now = await ids('service');
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
    await kit.checkKeepers('after the replica loss');
  });

  await phases.run('swarm: drill redis failover', async () => {
    const serviceContainers = (await ids('service')).sort().join(',');
    const primary = await sentinelPrimary(swarm);
    const victim = (await containerWithAddress(swarm, primary)).id;
    // Written just before the failover: with WAIT 1 acknowledged by the replica, so it survives.
    const [fresh] = await kit.createUsers(1);
    const freshCookie = await kit.login(fresh!);
    const traffic = kit.traffic();
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
    if ((await ids('service')).sort().join(',') !== serviceContainers)
      throw new CliError('redis failover: service replicas were restarted');
    log('the service followed the new primary without a restart');
    await kit.checkKeepers('after the Redis failover');
    const me = await kit.send('/api/me', { headers: { cookie: freshCookie } });
    if (me.status !== 200) throw new CliError(`redis failover: the session made just before it answers ${me.status}`);
    await kit.login(fresh!);
    log(`the user and session written just before the failover survived (${fresh!.username})`);
  });
}
