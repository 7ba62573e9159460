import { randomBytes } from 'node:crypto';
import { atPort, httpClient, type HttpResponse, type RequestInit } from '../../testkit/http.ts';
import { readEnvFile } from '../../testkit/env-file.ts';
import { repoRoot } from '../../testkit/repo.ts';
import { CliError, say } from '../lib/log.ts';
import type { Phases } from '../lib/phases.ts';
import { capture, run, sleep } from '../../testkit/run.ts';
import type { Container, SwarmStack } from './swarm-stack.ts';
import { Traffic, isFailure, summarize, type Credentials, type Edge, type Outcome } from '../../testkit/load.ts';

export const log = (message: string) => say('drill', message);

/** Clients of the load in every drill. */
export const CLIENTS = 4;

/** What every drill shares: the users, the sessions that must outlive them, the edge they go through. */
export class DrillKit {
  readonly base: string;
  clients: Credentials[] = [];
  private keepers: Array<{ user: Credentials; cookie: string }> = [];
  /** The edge the drill's requests go through; a node drill moves it to a surviving node. */
  edge: Edge;
  readonly swarm: SwarmStack;
  readonly phases: Phases;

  constructor(swarm: SwarmStack, phases: Phases, edge: Edge) {
    this.swarm = swarm;
    this.phases = phases;
    this.base = swarm.origin;
    this.edge = edge;
  }

  async send(path: string, init?: RequestInit): Promise<HttpResponse> {
    const { send } = httpClient({ caFiles: [this.swarm.caFile], connectTo: this.edge.address });
    return send(atPort(`${this.base}${path}`, this.edge.port), init);
  }

  traffic(timeoutMs?: number): Traffic {
    return new Traffic(this.base, this.swarm.caFile, this.clients, { edges: [this.edge], timeoutMs });
  }

  /** The load's users, and sessions signed in now that every drill must leave working. */
  async prepare(): Promise<void> {
    const users = await this.phases.run('swarm: drill users', () => this.createUsers(CLIENTS + 2));
    this.clients = users.slice(0, CLIENTS);
    for (const user of users.slice(CLIENTS)) this.keepers.push({ user, cookie: await this.login(user) });
  }

  async checkKeepers(when: string): Promise<void> {
    for (const { user, cookie } of this.keepers) {
      const response = await this.send('/api/me', { headers: { cookie } });
      if (response.status !== 200 || response.json<{ user: { username: string } }>().user.username !== user.username) {
        throw new CliError(
          `${when}: the session of ${user.username} from before the drills answers ${response.status} ${response.body}`,
        );
      }
    }
    log(`${when}: the ${this.keepers.length} sessions from before the drills still work`);
  }

  async login(user: Credentials): Promise<string> {
    const response = await this.send('/api/login', { json: user });
    const cookie = response.cookie();
    if (response.status !== 200 || !cookie)
      throw new CliError(`login as ${user.username}: ${response.status} ${response.body}`);
    return cookie;
  }

  /** Users through the service's own CLI in a replica (the password on stdin). */
  async createUsers(count: number): Promise<Credentials[]> {
    const users: Credentials[] = [];
    for (let i = 0; i < count; i += 1) {
      const user = {
        username: `drill-${randomBytes(4).toString('hex')}`,
        password: randomBytes(18).toString('base64url'),
      };
      if ((await this.swarm.users(['add', user.username], `${user.password}\n`)) !== 0)
        throw new CliError(`could not add ${user.username}`);
      users.push(user);
    }
    return users;
  }
}

/** Drill 1 on either swarm: `make swarm-update` under load, 0 failed requests, 0 lost sessions. */
export async function rollingUpdateDrill(kit: DrillKit): Promise<void> {
  await kit.phases.run('swarm: drill rolling update', async () => {
    const traffic = kit.traffic();
    traffic.start();
    await sleep(3000);
    const began = traffic.now();
    await run('make', ['-s', 'swarm-update'], {
      cwd: repoRoot,
      stdio: 'inherit',
      env: { ...process.env, ENV_FILE: kit.swarm.docker.envFile },
    });
    const ended = traffic.now();
    await sleep(3000);
    const outcomes = await traffic.stop();
    report('rolling update', outcomes, [
      `update took ${((ended - began) / 1000).toFixed(0)} s; replicas ${await kit.swarm.replicas('service')}`,
    ]);
    failOnAny('rolling update', outcomes);
    await kit.checkKeepers('after the rolling update');
  });
}

/**
 * redis-cli in one of the stack's containers; '' when it does not answer. `-e NAME` without a
 * value: docker takes the password from its own environment, so it is on no command line
 * (every local user can read any process's cmdline in /proc).
 */
export async function redisCli(swarm: SwarmStack, container: Container, args: string[]): Promise<string> {
  const env = { ...process.env, REDISCLI_AUTH: readEnvFile(swarm.docker.envFile).REDIS_PASSWORD ?? '' };
  const exec = ['-H', container.host, 'exec', '-e', 'REDISCLI_AUTH', container.id, 'redis-cli', '--no-auth-warning'];
  return capture('docker', [...exec, ...args], { env, timeoutMs: 10_000 }).catch(() => '');
}

/** The primary's address, as the Sentinels name it (asking the first Sentinel that answers). */
export async function sentinelPrimary(swarm: SwarmStack): Promise<string> {
  const names = ['sentinel-1', 'sentinel-2', 'sentinel-3'];
  for (const sentinel of (await Promise.all(names.map((name) => swarm.containersOf(name)))).flat()) {
    const out = await redisCli(swarm, sentinel, ['-p', '26379', 'SENTINEL', 'get-master-addr-by-name', 'authstack']);
    const address = out.split('\n')[0]?.trim();
    if (address) return address;
  }
  throw new CliError('no Sentinel names a primary');
}

/** The Redis data node's container that has this address. */
export async function containerWithAddress(swarm: SwarmStack, address: string): Promise<Container> {
  for (const service of ['redis-a', 'redis-b']) {
    for (const container of await swarm.containersOf(service)) {
      const format = '{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}';
      const addresses = await capture('docker', ['-H', container.host, 'inspect', '-f', format, container.id]);
      if (addresses.split(' ').includes(address)) return container;
    }
  }
  throw new CliError(`no Redis container has the primary's address ${address}`);
}

export function report(drill: string, outcomes: Outcome[], figures: string[]): void {
  process.stderr.write(
    `\n---- drill: ${drill}\n${[...summarize(outcomes), ...figures].map((line) => `  ${line}`).join('\n')}\n`,
  );
}

/** Fails the drill when any request of the load failed. */
export function failOnAny(drill: string, outcomes: Outcome[]): void {
  const failures = outcomes.filter(isFailure);
  if (failures.length > 0)
    throw new CliError(`${drill}: ${failures.length} failed requests (expected 0):\n${describe(failures)}`);
}

export function describe(failures: Outcome[]): string {
  return failures
    .slice(0, 20)
    .map((o) => `  t=${(o.at / 1000).toFixed(1)}s client ${o.client} ${o.kind}: ${o.status || o.error} (${o.ms} ms)`)
    .join('\n');
}
