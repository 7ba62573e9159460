import { X509Certificate } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCAL_NAMES, issueLeaf, servedCertificate } from '../../testkit/certs.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { CliError } from '../lib/log.ts';
import type { Phases } from '../lib/phases.ts';
import { capture, run, sleep, waitFor } from '../../testkit/run.ts';
import type { ClusterNode } from './cluster.ts';
import {
  DrillKit,
  containerWithAddress,
  describe,
  failOnAny,
  log,
  redisCli,
  report,
  rollingUpdateDrill,
  sentinelPrimary,
} from './drill-kit.ts';
import { SWARM_STACK, type SwarmStack } from './swarm-stack.ts';
import { Traffic, isFailure, type Edge, type Outcome } from '../../testkit/load.ts';

/** Node loss: the longest run of failed requests allowed, counted by when they were sent. */
const NODE_LOSS_FAILURE_BOUND_S = 10;
/** Node loss: the service's replicas from the lost node run on the others within this. */
const RESCHEDULE_BOUND_S = 30;

/**
 * The swarm drills (`node ops/cli.ts swarm drills`; CI runs them on three nodes). On a
 * single-node swarm only the rolling update applies: there is no other node to move to.
 * The three-node cluster's drills (deploy/swarm/cluster.yml), each under signed-in load through
 * the edge of a node the drill leaves alone, each printing requests, failures by status, time
 * to recovery and lost sessions:
 *   1. rolling update across the nodes (make swarm-update: a new tag through the registry): 0 failed;
 *   2. drain a node: its tasks move, 0 failed; then it is made active again;
 *   3. kill the node that holds the Redis primary (its engine container, like pulling the plug):
 *      Sentinel promotes the replica on another node; failures only 503 (or, for a request in
 *      flight on the lost node, what nginx answers when that node never does) and only for
 *      requests sent within a few seconds of the kill; the service's replicas run on the others
 *      within 30 s; sessions from before still work;
 *   4. start that node again: it rejoins, its data node comes back as a replica, 0 failed;
 *   5. a renewed certificate reaches every node's nginx (make swarm-up), 0 failed for a client
 *      that tries the next node when one refuses.
 */
export async function runDrills(swarm: SwarmStack, phases: Phases): Promise<void> {
  if (!(await swarm.isMultiNode())) {
    const kit = new DrillKit(swarm, phases, (await swarm.edges())[0]!);
    await kit.prepare();
    return rollingUpdateDrill(kit);
  }
  const cluster = swarm.cluster;
  const edgeOf = (node: ClusterNode): Edge => ({ address: node.address, port: 443 });
  const nodeOf = (host: string) => cluster.nodes.find((node) => node.host === host)!;
  const primaryNode = async () => nodeOf((await containerWithAddress(swarm, await sentinelPrimary(swarm))).host);
  const kit = new DrillKit(swarm, phases, edgeOf(cluster.nodes[0]!));
  await kit.prepare();

  await rollingUpdateDrill(kit);
  log(`service replicas per node after the update: ${await placement(swarm)}`);

  await phases.run('swarm: drill drain a node', async () => {
    const holder = await primaryNode();
    // The node to drain: not the Redis primary's (that is the next drill), the one with the most
    // service replicas (their move is what the drill is about).
    const replicas = await swarm.containersOf('service');
    const count = (node: ClusterNode) => replicas.filter((c) => c.host === node.host).length;
    const drained = cluster.nodes.filter((node) => node !== holder).sort((a, b) => count(b) - count(a))[0]!;
    kit.edge = edgeOf(cluster.nodes.find((node) => node !== drained)!);
    const before = await runningTasks(swarm, drained.name);
    const stackOn = `label=com.docker.stack.namespace=${SWARM_STACK}`;
    const left = async () => (await capture('docker', ['-H', drained.host, 'ps', '-q', '--filter', stackOn])).trim();
    const healthyElsewhere = async () =>
      (await swarm.containersOf('service', { healthy: true })).filter((c) => c.host !== drained.host).length;
    const traffic = kit.traffic();
    traffic.start();
    await sleep(3000);
    const began = traffic.now();
    await swarm.swarmDocker(['node', 'update', '--availability', 'drain', drained.name]);
    const moved = await waitFor(async () => (!(await left()) && (await healthyElsewhere()) >= 3 ? true : undefined), {
      timeoutMs: 90_000,
      intervalMs: 500,
    });
    const movedAt = traffic.now();
    await sleep(3000);
    const outcomes = await traffic.stop();
    await swarm.swarmDocker(['node', 'update', '--availability', 'active', drained.name]);
    // Back to full strength before the next drill: every task placed again, the Redis replica
    // (if it was on the drained node) resynchronized.
    const reactivated = Date.now();
    await swarm.waitConverged();
    await waitReplicaInSync(swarm);
    const backAfter = seconds(Date.now() - reactivated);
    report(`drain ${drained.name}`, outcomes, [
      `${before.length} tasks on ${drained.name} (${before.join(', ')}); all stopped there and 3 healthy replicas on the others after ${seconds(movedAt - began)}`,
      `service replicas per node: ${await placement(swarm)}; ${drained.name} active again, every task back and the Redis replica in sync ${backAfter} later`,
    ]);
    if (!moved) throw new CliError(`drain: the tasks did not leave ${drained.name} within 90 s`);
    failOnAny('drain', outcomes);
    await kit.checkKeepers(`after draining ${drained.name}`);
  });

  const lost = await phases.run('swarm: drill lose the Redis primary node', async () => {
    await waitReplicaInSync(swarm);
    const primary = await sentinelPrimary(swarm);
    const victim = await primaryNode();
    kit.edge = edgeOf(cluster.nodes.find((node) => node !== victim)!);
    const replicasThere = (await swarm.containersOf('service')).filter((c) => c.host === victim.host).length;
    // Written just before the loss: acknowledged by the replica (WAIT 1), so it survives.
    const [fresh] = await kit.createUsers(1);
    const freshCookie = await kit.login(fresh!);
    // A request in flight on the lost node waits for nginx's proxy_read_timeout (30 s): the
    // client waits longer, so such a request is recorded with nginx's answer, not as a hang.
    const traffic = kit.traffic(40_000);
    traffic.start({ readyz: true });
    await sleep(3000);
    const killedAt = traffic.now();
    log(`killing ${victim.name} (${victim.address}): Redis primary ${primary}, ${replicasThere} service replica(s)`);
    await cluster.kill(victim);
    // Requests sent before this may have been in flight on the lost node.
    const deadAt = traffic.now();
    const when = async (check: () => Promise<boolean>, timeoutMs: number) =>
      (await waitFor(async () => ((await check()) ? true : undefined), { timeoutMs, intervalMs: 500 }))
        ? traffic.now()
        : undefined;
    const [promotedAt, rescheduledAt, healthyAt] = await Promise.all([
      when(async () => (await sentinelPrimary(swarm).catch(() => primary)) !== primary, 60_000),
      when(async () => (await swarm.containersOf('service')).length >= 3, 90_000),
      when(async () => (await healthyReplicas(swarm)) >= 3, 90_000),
    ]);
    await steady(traffic, promotedAt ?? killedAt);
    const outcomes = await traffic.stop();
    const failures = outcomes.filter(isFailure);
    const window = spanSeconds(failures);
    const sentBefore = (o: Outcome) => o.at < deadAt;
    const unexpected = failures.filter((o) => o.status !== 503 && !sentBefore(o));
    report(`lose ${victim.name}`, outcomes, [
      `Sentinel promoted ${promotedAt ? `${await sentinelPrimary(swarm)} ${seconds(promotedAt - killedAt)} after the kill` : 'nothing'}`,
      `service replicas running on the other nodes: ${rescheduledAt ? `3 after ${seconds(rescheduledAt - killedAt)}` : 'not 3'} (bound ${RESCHEDULE_BOUND_S} s), healthy after ${healthyAt ? seconds(healthyAt - killedAt) : 'never'}: ${await placement(swarm)}`,
      `failed requests were sent over ${window.toFixed(1)} s (bound ${NODE_LOSS_FAILURE_BOUND_S} s); other than 503 and sent after the kill: ${unexpected.length}`,
    ]);
    if (!promotedAt) throw new CliError('node loss: Sentinel promoted no replica within 60 s');
    if (!rescheduledAt || rescheduledAt - killedAt > RESCHEDULE_BOUND_S * 1000)
      throw new CliError(`node loss: the service's replicas were not back within ${RESCHEDULE_BOUND_S} s`);
    if (unexpected.length > 0) throw new CliError(`node loss: failures other than 503:\n${describe(unexpected)}`);
    if (window > NODE_LOSS_FAILURE_BOUND_S)
      throw new CliError(`node loss: requests failed over ${window.toFixed(1)} s:\n${describe(failures)}`);
    await kit.checkKeepers(`after losing ${victim.name}`);
    const me = await kit.send('/api/me', { headers: { cookie: freshCookie } });
    if (me.status !== 200) throw new CliError(`node loss: the session made just before it answers ${me.status}`);
    await kit.login(fresh!);
    log(`the user and session written just before the loss survived (${fresh!.username})`);
    return { node: victim, primary };
  });

  await phases.run('swarm: drill the lost node rejoins', async () => {
    const { node } = lost;
    const traffic = kit.traffic();
    traffic.start();
    await sleep(2000);
    const began = traffic.now();
    await cluster.start(node);
    const rejoined = await waitFor(
      async () => {
        const status = await swarm.swarmDocker(['node', 'inspect', '-f', '{{.Status.State}}', node.name]);
        return status.stdout.trim() === 'ready' ? true : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 1000 },
    );
    const readyAt = traffic.now();
    await swarm.waitConverged();
    const role = await waitFor(async () => ((r) => (r === 'slave' ? r : undefined))(await roleOn(swarm, node)), {
      timeoutMs: 60_000,
      intervalMs: 1000,
    });
    const convergedAt = traffic.now();
    await sleep(3000);
    const outcomes = await traffic.stop();
    report(`${node.name} rejoins`, outcomes, [
      `${node.name} ready in the swarm ${((readyAt - began) / 1000).toFixed(1)} s after its engine started; every service converged and every edge ready after ${((convergedAt - began) / 1000).toFixed(1)} s`,
      `the old primary on ${node.name} is now: ${role ?? (await roleOn(swarm, node)) ?? 'not answering'}; service replicas per node: ${await placement(swarm)}`,
    ]);
    if (!rejoined) throw new CliError(`rejoin: ${node.name} is not ready in the swarm within 90 s`);
    if (role !== 'slave') throw new CliError(`rejoin: the data node on ${node.name} did not come back as a replica`);
    failOnAny('rejoin', outcomes);
    await kit.checkKeepers(`after ${node.name} rejoined`);
  });

  await phases.run('swarm: drill certificate renewal', () => certificateRenewalDrill(kit, edgeOf));
}

/**
 * A renewed certificate reaches nginx on every node (swarm secrets are immutable): the files
 * change (here a new leaf from the local CA, where an ACME client would write its renewal), and
 * `make swarm-up` deploys them as a new secret version, which rolls nginx one node at a time
 * (stop-first: host-mode ports cannot be held twice). Each node's edge is down for its restart,
 * so the load goes to every node's edge and, like a browser with several addresses for one name,
 * to the next one when a node refuses the connection: 0 failed requests. Every node serves the
 * new serial afterwards.
 */
async function certificateRenewalDrill(kit: DrillKit, edgeOf: (node: ClusterNode) => Edge): Promise<void> {
  const { swarm } = kit;
  const nodes = swarm.cluster.nodes;
  const host = new URL(kit.base).hostname;
  const served = () =>
    Promise.all(nodes.map(async (node) => serial((await servedCertificate(node.address, 443, host)).serialNumber)));
  const before = await served();
  const dir = fromRepo('.run/swarm/renewed');
  mkdirSync(dir, { recursive: true });
  const files = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
  issueLeaf(join(repoRoot, 'certs'), files, LOCAL_NAMES);
  const renewed = serial(new X509Certificate(readFileSync(files.cert)).serialNumber);
  const traffic = new Traffic(kit.base, swarm.caFile, kit.clients, { edges: nodes.map(edgeOf) });
  traffic.start();
  await sleep(3000);
  const began = traffic.now();
  const env = { ...process.env, ENV_FILE: swarm.docker.envFile, TLS_CERT_FILE: files.cert, TLS_KEY_FILE: files.key };
  await run('make', ['-s', 'swarm-up'], { cwd: repoRoot, stdio: 'inherit', env });
  const ended = traffic.now();
  await sleep(3000);
  const outcomes = await traffic.stop();
  const after = await served();
  report('certificate renewal', outcomes, [
    `make swarm-up with the renewed files took ${seconds(ended - began)}; load spread over ${nodes.length} edges`,
    `serial served by ${nodes.map((n, i) => `${n.name} ${before[i]} -> ${after[i]}`).join(', ')}; renewed ${renewed}`,
  ]);
  const stale = nodes.filter((_node, i) => after[i] !== renewed);
  if (stale.length > 0)
    throw new CliError(`renewal: ${stale.map((n) => n.name).join(', ')} still serve the old certificate`);
  failOnAny('certificate renewal', outcomes);
  await kit.checkKeepers('after the certificate renewal');
}

/** A serial number as hex, upper case, without leading zeros (the two APIs differ there). */
const serial = (hex: string) => hex.toUpperCase().replace(/^0+/, '');

/** Seconds between the first and the last failed request's sending. */
function spanSeconds(failures: Outcome[]): number {
  return failures.length ? (Math.max(...failures.map((o) => o.at)) - Math.min(...failures.map((o) => o.at))) / 1000 : 0;
}

/** Waits until nothing has failed for 5 s (after `since`), then keeps the load 5 s more. */
async function steady(traffic: Traffic, since: number): Promise<void> {
  const quiet = () => !traffic.outcomes.some((o) => o.at > traffic.now() - 5000 && o.at > since && isFailure(o));
  await waitFor(async () => (quiet() ? true : undefined), { timeoutMs: 60_000, intervalMs: 1000 });
  await sleep(5000);
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Waits until the Redis primary has its replica connected and in sync (state=online). */
async function waitReplicaInSync(swarm: SwarmStack): Promise<void> {
  const inSync = async () => {
    const primary = await containerWithAddress(swarm, await sentinelPrimary(swarm));
    return /^slave0:.*state=online/m.test(await redisCli(swarm, primary, ['INFO', 'replication'])) || undefined;
  };
  if (!(await waitFor(inSync, { timeoutMs: 90_000, intervalMs: 1000 })))
    throw new CliError('the Redis primary has no replica in sync after 90 s');
}

/** Service replicas whose health check passes, on the engines that answer. */
async function healthyReplicas(swarm: SwarmStack): Promise<number> {
  return (await swarm.containersOf('service', { healthy: true })).length;
}

/** The stack's tasks that run on a node. */
async function runningTasks(swarm: SwarmStack, node: string): Promise<string[]> {
  const args = ['node', 'ps', node, '--filter', 'desired-state=running', '--format', '{{.Name}} {{.CurrentState}}'];
  const rows = (await swarm.swarmDocker(args)).stdout.split('\n');
  return rows
    .filter((row) => row.startsWith(SWARM_STACK) && / Running /.test(` ${row} `))
    .map((row) => row.split(' ')[0]!);
}

/** How many service replicas run on each node, e.g. "node-1 1, node-2 1, node-3 1". */
async function placement(swarm: SwarmStack): Promise<string> {
  const args = [
    'service',
    'ps',
    `${SWARM_STACK}_service`,
    '--filter',
    'desired-state=running',
    '--format',
    '{{.Node}}',
  ];
  const counts = new Map<string, number>();
  for (const node of (await swarm.swarmDocker(args)).stdout.split('\n').filter(Boolean))
    counts.set(node, (counts.get(node) ?? 0) + 1);
  return [...counts]
    .sort()
    .map(([node, n]) => `${node} ${n}`)
    .join(', ');
}

/** ROLE of the Redis data node running on a node (master, slave), or undefined. */
async function roleOn(swarm: SwarmStack, node: ClusterNode): Promise<string | undefined> {
  const dataNodes = [...(await swarm.containersOf('redis-a')), ...(await swarm.containersOf('redis-b'))];
  const container = dataNodes.find((c) => c.host === node.host);
  return container ? (await redisCli(swarm, container, ['ROLE'])).split('\n')[0]?.trim() || undefined : undefined;
}
