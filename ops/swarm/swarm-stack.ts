import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { ensureLocalCertificates } from '../../testkit/certs.ts';
import { nginxFiles } from '../../testkit/nginx.ts';
import { DockerStack } from '../docker/docker-stack.ts';
import { generateEnvFile } from '../env-gen.ts';
import { envFileText } from '../../testkit/env-file.ts';
import { announce } from '../lib/access.ts';
import { CliError, say } from '../lib/log.ts';
import { atPort, probe } from '../../testkit/http.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { capture, run, sleep, waitFor, type RunOptions } from '../../testkit/run.ts';
import { writeSecretFiles } from '../lib/secrets.ts';
import { DEFAULT_ACCESS_RULES, containerServiceEnv } from '../lib/service-env.ts';
import { ensureTools } from '../lib/tools.ts';
import { Cluster, NODES_FILE } from './cluster.ts';
import { STACK_FILE, contentVersion, pushImages, writeNginxConfigs } from './stack-inputs.ts';

const log = (message: string) => say('swarm', message);

/** The stack's name: its services are authstack-swarm_service and so on (never clashing with compose's authstack_*). */
export const SWARM_STACK = 'authstack-swarm';
/** Settings the stack file decides (Sentinels, proxy trust, drain): .env cannot override them here. */
const SWARM_OWNED = [
  'HOST',
  'PORT',
  'REDIS_URL',
  'REDIS_SENTINELS',
  'TRUST_PROXY',
  'COOKIE_SECURE',
  'SHUTDOWN_DRAIN_DELAY',
  'SHUTDOWN_TIMEOUT',
] as const;
const DEFAULT_BACKEND_SUBNET = '10.97.97.0/24';

/** A running container of the stack, and the engine that runs it. */
export interface Container {
  id: string;
  /** DOCKER_HOST of its engine */
  host: string;
}

/**
 * The swarm shape (deploy/swarm/stack.yml, docs/scaling.md), on one of two swarms:
 * - a single-node swarm of the local engine: the images as compose has them (stand-ins where no
 *   registry answers), `--resolve-image never`;
 * - with NODES=3, the three-node cluster of deploy/swarm/cluster.yml (ops/swarm/cluster.ts): the
 *   images pushed to the cluster's registry, pinned by digest, placed by deploy/swarm/nodes.yml,
 *   every swarm command sent to a live manager.
 * Secrets and configs are named by content digest either way.
 */
export class SwarmStack {
  readonly docker: DockerStack;
  readonly cluster: Cluster;
  private readonly env: NodeJS.ProcessEnv;
  private readonly runDir = fromRepo('.run/swarm');
  private multiNode: boolean | undefined;

  constructor(options: { envFile?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.env = options.env ?? process.env;
    this.docker = new DockerStack(options);
    this.cluster = new Cluster(this.env);
  }

  /** NODES=3 asks for the cluster; without NODES, a cluster that is up is the one meant. */
  async isMultiNode(): Promise<boolean> {
    if (this.multiNode !== undefined) return this.multiNode;
    const nodes = this.env.NODES;
    const size = this.cluster.nodes.length;
    if (nodes && nodes !== '1' && nodes !== String(size))
      throw new CliError(
        `NODES=${nodes}: the cluster has ${size} nodes (deploy/swarm/cluster.yml), so NODES=1 or ${size}`,
      );
    this.multiNode = nodes ? nodes !== '1' : await this.cluster.isUp();
    return this.multiNode;
  }

  /** docker against the swarm: the local engine, or a live manager of the cluster. */
  async swarmDocker(args: string[], options: RunOptions = {}) {
    const host = (await this.isMultiNode()) ? await this.cluster.managerHost() : process.env.DOCKER_HOST;
    return run('docker', args, { ...options, env: { ...(options.env ?? process.env), DOCKER_HOST: host } });
  }

  private async swarmOutput(args: string[]): Promise<string> {
    return (await this.swarmDocker(args)).stdout;
  }

  /** The engines that run tasks: the local one, or each live node of the cluster. */
  async engines(): Promise<string[]> {
    if (!(await this.isMultiNode())) return [process.env.DOCKER_HOST ?? ''];
    return (await this.cluster.liveNodes()).map((node) => node.host);
  }

  /** Where the edge answers: loopback on the HTTPS port, or every live node's own address on 443. */
  async edges(): Promise<Array<{ address: string; port: number }>> {
    if (!(await this.isMultiNode())) return [{ address: '127.0.0.1', port: Number(this.setting('HTTPS_PORT', '443')) }];
    return (await this.cluster.liveNodes()).map((node) => ({ address: node.address, port: 443 }));
  }

  private setting(name: string, fallback: string): string {
    return this.docker.setting(name, fallback);
  }

  /** The edge's origin and the CA that signed its certificate (for checks and drills). */
  get origin(): string {
    return this.setting('PUBLIC_ORIGIN', 'https://localhost');
  }

  get caFile(): string {
    return join(repoRoot, 'certs/ca.crt');
  }

  /** The engine joins a swarm of its own when it is in none (advertising SWARM_ADVERTISE_ADDR or the first external IPv4). */
  async ensureSwarm(): Promise<void> {
    const state = (await capture('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim();
    if (state === 'active') return;
    const address = this.env.SWARM_ADVERTISE_ADDR || firstExternalAddress();
    if (!address) throw new CliError('no address to advertise for `docker swarm init`: set SWARM_ADVERTISE_ADDR');
    log(`docker swarm init --advertise-addr ${address} (a single-node swarm)`);
    await run('docker', ['swarm', 'init', '--advertise-addr', address], { stdio: 'inherit' });
  }

  /** What the stack file interpolates: the service's settings, the secret files and every version suffix. */
  private writeInputs(): Record<string, string> {
    const envFile = this.docker.envFile;
    const subnet = this.setting('SWARM_BACKEND_SUBNET', DEFAULT_BACKEND_SUBNET);
    const { settings, secrets } = containerServiceEnv(envFile, {
      owned: SWARM_OWNED,
      ownedBy: 'the stack file',
      decides: { PUBLIC_ORIGIN: this.origin, TRUST_PROXY: subnet },
      secretsDir: join(this.runDir, 'secrets'),
      mode: 0o400,
    });
    const header = `Written by the swarm tooling from ${envFile}: the service's settings (secrets arrive as files).`;
    writeSecretFiles(this.runDir, { 'service.env': envFileText(header, settings) }, 0o600);
    const certFile = this.env.TLS_CERT_FILE || join(repoRoot, 'certs/localhost.crt');
    const keyFile = this.env.TLS_KEY_FILE || join(repoRoot, 'certs/localhost.key');
    const rulesFile = fromRepo(settings.ACCESS_RULES_FILE ?? DEFAULT_ACCESS_RULES);
    return {
      // A swarm config is immutable: a changed rules file is a new config, rolled out by `make swarm-update`.
      ACCESS_RULES_HOST_FILE: rulesFile,
      ACCESS_RULES_VERSION: contentVersion(readFileSync(rulesFile)),
      SWARM_RUN_DIR: this.runDir,
      SWARM_BACKEND_SUBNET: subnet,
      SERVICE_TAG: this.env.SERVICE_TAG ?? 'local',
      HTTP_PORT: this.setting('HTTP_PORT', '80'),
      HTTPS_PORT: this.setting('HTTPS_PORT', '443'),
      PUBLIC_ORIGIN: this.origin,
      METRICS_AT_EDGE: 'on',
      TLS_CERT_FILE: certFile,
      TLS_KEY_FILE: keyFile,
      REDIS_PASSWORD_VERSION: contentVersion(secrets.REDIS_PASSWORD!),
      SESSION_SECRETS_VERSION: contentVersion(secrets.SESSION_SECRETS!),
      METRICS_TOKEN_VERSION: contentVersion(secrets.METRICS_TOKEN!),
      ADMIN_PASSWORD_VERSION: contentVersion(secrets.ADMIN_PASSWORD!),
      TLS_VERSION: contentVersion(readFileSync(certFile), readFileSync(keyFile)),
      NGINX_CONFIG_VERSION: contentVersion(...nginxFiles().map((f) => readFileSync(join(repoRoot, 'nginx', f)))),
      REDIS_CONFIG_VERSION: contentVersion(
        readFileSync(fromRepo('deploy/redis.conf')),
        readFileSync(fromRepo('deploy/redis/ha-entrypoint.sh')),
      ),
    };
  }

  /**
   * `docker stack deploy`. Single node: local images only (never resolve, prefer offline). Cluster:
   * the images pushed to its registry and pinned by digest, the node placement, the nodes' own ports.
   */
  private async deploy(serviceTag?: string): Promise<void> {
    const vars = this.writeInputs();
    const files = ['-c', STACK_FILE, '-c', writeNginxConfigs(this.runDir)];
    let resolve = ['--resolve-image', 'never'];
    if (await this.isMultiNode()) {
      files.push('-c', NODES_FILE, '-c', await pushImages(this.cluster, this.runDir, serviceTag!));
      resolve = ['--resolve-image', 'always'];
      Object.assign(vars, { HTTP_PORT: '80', HTTPS_PORT: '443', SERVICE_TAG: serviceTag! });
    }
    await this.swarmDocker(['stack', 'deploy', ...resolve, '--prune', ...files, SWARM_STACK], {
      env: { ...process.env, ...vars, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' },
      stdio: 'inherit',
    });
  }

  /** The service image's tag on the cluster's registry: its image id, so a rebuild is a new tag. */
  private async serviceTag(): Promise<string> {
    const local = `authstack/service:${this.env.SERVICE_TAG ?? 'local'}`;
    const id = (await capture('docker', ['image', 'inspect', '-f', '{{.Id}}', local])).trim();
    const tag = id.replace(/^sha256:/, '').slice(0, 12);
    await run('docker', ['tag', local, `authstack/service:${tag}`]);
    return tag;
  }

  async up(): Promise<void> {
    await ensureTools('docker', 'mkcert');
    await this.docker.connect({ start: true });
    generateEnvFile(this.docker.envFile);
    ensureLocalCertificates(join(repoRoot, 'certs'), { quiet: true });
    if (await this.docker.containerOf('nginx'))
      throw new CliError('the compose stack holds the edge ports: make down first (both publish HTTP_PORT/HTTPS_PORT)');
    const multiNode = await this.isMultiNode();
    if (multiNode)
      await this.cluster.up({
        HTTP_PORT: this.setting('HTTP_PORT', '80'),
        HTTPS_PORT: this.setting('HTTPS_PORT', '443'),
      });
    else await this.ensureSwarm();
    await this.docker.ensureBaseImages();
    await this.docker.buildService();
    await this.deploy(multiNode ? await this.serviceTag() : undefined);
    await this.waitConverged();
    await this.pruneUnused();
    const nodes = multiNode
      ? `${this.cluster.nodes.length} nodes (${this.cluster.nodes.map((n) => n.address).join(', ')})`
      : 'one node';
    await announce({
      shape: `swarm on ${nodes}, ${await this.replicas('service')} service replicas`,
      origin: this.origin,
      httpsPort: Number(this.setting('HTTPS_PORT', '443')),
      envFile: this.docker.envFile,
      caFile: join(repoRoot, 'certs/ca.crt'),
      usersCommand: (args) => `node ops/cli.ts swarm users ${args}`,
      notes: [`services: docker stack services ${SWARM_STACK}    update: make swarm-update    stop: make swarm-down`],
    });
  }

  /**
   * Rolling update of the service: a fresh image (on the cluster: pushed under a new tag), one
   * replica at a time, start-first; swarm rolls back on failure.
   */
  async update(): Promise<void> {
    await this.docker.connect();
    await this.docker.buildService();
    const multiNode = await this.isMultiNode();
    const image = multiNode
      ? await this.cluster.push(`authstack/service:${await this.serviceTag()}`)
      : `authstack/service:${this.env.SERVICE_TAG ?? 'local'}`;
    const service = `${SWARM_STACK}_service`;
    log(`rolling update of ${service} to ${image}`);
    const resolve = multiNode ? [] : ['--no-resolve-image'];
    await this.swarmDocker(
      ['service', 'update', '--detach=false', '--quiet', ...resolve, '--force', '--image', image, service],
      { env: { ...process.env, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' }, stdio: 'inherit' },
    );
    // The CLI returns once the tasks run; the update ends after its monitor period (stack.yml).
    const format = '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}';
    const updateState = async () => (await this.swarmOutput(['service', 'inspect', '-f', format, service])).trim();
    const finished = async () => ((state) => (state === 'updating' ? undefined : state))(await updateState());
    const state = (await waitFor(finished, { timeoutMs: 300_000, intervalMs: 1000 })) ?? 'updating';
    if (state !== 'completed')
      throw new CliError(
        `the update of ${service} ended ${state || 'without a status'} (swarm rolls back a failed update)`,
      );
    await this.waitConverged();
    log(`updated: ${await this.replicas('service')} replicas`);
  }

  /** Removes the stack (volumes are kept); on the cluster, then stops its nodes (their data is kept). */
  async down(): Promise<void> {
    await this.docker.connect();
    const multiNode = await this.isMultiNode();
    const state = multiNode
      ? 'active'
      : (await capture('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim();
    if (state !== 'active') return log('no swarm');
    await this.swarmDocker(['stack', 'rm', SWARM_STACK], { stdio: 'inherit', allowFailure: true });
    // Networks go last, asynchronously: wait, so an immediate swarm-up does not trip on them.
    const filter = `label=com.docker.stack.namespace=${SWARM_STACK}`;
    const gone = async () =>
      (await this.swarmOutput(['network', 'ls', '-q', '--filter', filter])).trim() ? undefined : true;
    await waitFor(gone, { timeoutMs: 60_000 });
    if (multiNode) await this.cluster.down();
  }

  /** `make users` inside a running service replica (the password on stdin, as with compose). */
  async users(args: string[], input?: string): Promise<number> {
    await this.docker.connect();
    const replica = (await this.containersOf('service'))[0];
    if (!replica) throw new CliError('no service replica is running (make swarm-up)');
    const stdio = input === undefined ? 'inherit' : 'pipe';
    const command = ['-H', replica.host, 'exec', '-i', replica.id, 'node', 'dist/cli/users.js', ...args];
    const result = await run('docker', command, { stdio, input, allowFailure: true });
    if (result.code !== 0 && input !== undefined)
      say('swarm', `users ${args.join(' ')}: ${result.stderr.trim() || result.stdout.trim()}`);
    return result.code;
  }

  /** Running containers of one of the stack's services, on every engine that answers. */
  async containersOf(service: string, options: { healthy?: boolean } = {}): Promise<Container[]> {
    const filter = `label=com.docker.swarm.service.name=${SWARM_STACK}_${service}`;
    const health = options.healthy ? ['--filter', 'health=healthy'] : [];
    const found = await Promise.all(
      (await this.engines()).map(async (host) =>
        (await capture('docker', ['-H', host, 'ps', '-q', '--filter', filter, ...health]).catch(() => ''))
          .split('\n')
          .filter(Boolean)
          .map((id) => ({ id, host })),
      ),
    );
    return found.flat();
  }

  async replicas(service: string): Promise<string> {
    const args = ['service', 'ls', '--filter', `name=${SWARM_STACK}_${service}`, '--format', '{{.Replicas}}'];
    return (await this.swarmOutput(args)).trim();
  }

  /** Every service at its replica count with healthy tasks, and every edge answering /readyz with 200. */
  async waitConverged(timeoutMs = Number(this.env.WAIT_TIMEOUT ?? 180) * 1000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const origin = new URL(this.origin);
    const starting = ['--filter', `label=com.docker.stack.namespace=${SWARM_STACK}`, '--filter', 'health=starting'];
    let last = '';
    while (Date.now() < deadline) {
      const rows = (await this.swarmOutput(['stack', 'services', SWARM_STACK, '--format', '{{.Name}} {{.Replicas}}']))
        .trim()
        .split('\n')
        .filter(Boolean);
      const pending = rows.filter((row) => {
        const [running, desired] = (row.split(' ')[1] ?? '0/1').split('/');
        return running !== desired;
      });
      let unhealthy = false;
      for (const host of await this.engines())
        unhealthy ||= (await capture('docker', ['-H', host, 'ps', ...starting, '-q'])).trim() !== '';
      const edges = await Promise.all(
        (await this.edges()).map(async ({ address, port }) => {
          const edge = await probe(atPort(`${origin.origin}/readyz`, port), {
            connectTo: address,
            caFiles: [this.caFile],
          });
          return edge.status === 200 ? '' : `${address} ${edge.status || edge.error}`;
        }),
      );
      const edgeDown = edges.filter(Boolean);
      if (rows.length > 0 && pending.length === 0 && !unhealthy && edgeDown.length === 0) return;
      last = `${pending.join(', ') || 'replicas ok'}; ${unhealthy ? 'health checks starting' : 'healthy'}; edge /readyz ${edgeDown.join(', ') || 'ok'}`;
      await sleep(1000);
    }
    throw new CliError(
      `the swarm stack did not converge in ${timeoutMs / 1000} s: ${last}\n       docker stack ps ${SWARM_STACK} --no-trunc shows why`,
    );
  }

  /** Old secret and config versions no service uses any more (in-use ones are refused by the engine). */
  private async pruneUnused(): Promise<void> {
    for (const kind of ['secret', 'config']) {
      const names = (await this.swarmOutput([kind, 'ls', '--format', '{{.Name}}']))
        .split('\n')
        .filter((n) => n.startsWith('authstack_'));
      for (const name of names) await this.swarmDocker([kind, 'rm', name], { allowFailure: true });
    }
  }
}

/** The first IPv4 address of a physical-looking interface (not loopback, not a Docker bridge). */
function firstExternalAddress(): string | undefined {
  for (const [name, addresses] of Object.entries(networkInterfaces())) {
    if (/^(lo|docker|br-|veth|virbr)/.test(name)) continue;
    const v4 = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) return v4.address;
  }
  return undefined;
}
