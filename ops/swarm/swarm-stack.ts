import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { ensureLocalCertificates } from '../../testkit/certs.ts';
import { nginxFiles } from '../../testkit/nginx.ts';
import { DockerStack } from '../docker/docker-stack.ts';
import { generateEnvFile } from '../env-gen.ts';
import { readEnvFile } from '../../testkit/env-file.ts';
import { announce } from '../lib/access.ts';
import { CliError, say } from '../lib/log.ts';
import { atPort, probe } from '../../testkit/http.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { capture, run, sleep, waitFor } from '../lib/run.ts';
import { writeSecretFiles } from '../lib/secrets.ts';
import {
  DEFAULT_ACCESS_RULES,
  SECRET_FILES,
  assertValidServiceConfig,
  serviceEnvFrom,
  type SecretKey,
} from '../lib/service-env.ts';
import { ensureTools } from '../lib/tools.ts';

const log = (message: string) => say('swarm', message);

/** The stack's name: its services are authstack-swarm_service and so on (never clashing with compose's authstack_*). */
export const SWARM_STACK = 'authstack-swarm';
const STACK_FILE = fromRepo('deploy/swarm/stack.yml');
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

/** A short digest of some content: the version suffix of an immutable swarm secret or config. */
export function contentVersion(...parts: Array<string | Buffer>): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 12);
}

/**
 * The swarm shape (deploy/swarm/stack.yml, docs/scaling.md) on a single-node swarm of the local
 * engine: the same images as compose (stand-ins where no registry answers), secrets and configs
 * named by content digest, `docker stack deploy --resolve-image never` for local images.
 */
export class SwarmStack {
  readonly docker: DockerStack;
  private readonly env: NodeJS.ProcessEnv;
  private readonly runDir = fromRepo('.run/swarm');

  constructor(options: { envFile?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.env = options.env ?? process.env;
    this.docker = new DockerStack(options);
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
    const { settings, secrets, overridden } = serviceEnvFrom(readEnvFile(envFile), SWARM_OWNED);
    for (const key of overridden) log(`${key} in ${envFile} is not used: the stack file sets it`);
    const subnet = this.setting('SWARM_BACKEND_SUBNET', DEFAULT_BACKEND_SUBNET);
    assertValidServiceConfig({ ...settings, ...secrets, PUBLIC_ORIGIN: this.origin, TRUST_PROXY: subnet }, envFile);
    for (const key of Object.keys(SECRET_FILES) as SecretKey[]) {
      if (!secrets[key]) throw new CliError(`${key} is empty: set it in ${envFile} (make env creates a complete one)`);
    }
    const password = secrets.REDIS_PASSWORD!;
    const requirepass = `requirepass "${password.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
    writeSecretFiles(
      join(this.runDir, 'secrets'),
      {
        ...Object.fromEntries(Object.entries(secrets).map(([key, value]) => [SECRET_FILES[key as SecretKey], value])),
        'redis_requirepass.conf': requirepass,
      },
      0o400,
    );
    writeSecretFiles(
      this.runDir,
      {
        'service.env': `# Written by the swarm tooling from ${envFile}: the service's settings (secrets arrive as files).\n${Object.entries(
          settings,
        )
          .map(([k, v]) => `${k}=${v}`)
          .join('\n')}\n`,
      },
      0o600,
    );
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
      REDIS_PASSWORD_VERSION: contentVersion(password),
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
   * nginx's own files as swarm configs, derived from nginx/ (testkit/nginx.ts): a second compose
   * file beside stack.yml, written for each deploy, so a new snippet needs no list in stack.yml.
   */
  private writeNginxConfigs(): string {
    const configs = nginxFiles().map((file) => ({
      file,
      key: `nginx_${file.replace(/\.(conf|template)$/g, '').replace(/[^a-z0-9]+/gi, '_')}`,
    }));
    const compose = {
      version: '3.8',
      services: { nginx: { configs: configs.map(({ file, key }) => ({ source: key, target: `/etc/nginx/${file}` })) } },
      configs: Object.fromEntries(
        configs.map(({ file, key }) => [
          key,
          { name: `authstack_${key}_\${NGINX_CONFIG_VERSION}`, file: join(repoRoot, 'nginx', file) },
        ]),
      ),
    };
    const path = join(this.runDir, 'nginx-configs.json');
    writeFileSync(path, `${JSON.stringify(compose, null, 2)}\n`);
    return path;
  }

  /** `docker stack deploy` with local images only (no registry: never resolve, prefer offline). */
  private async deploy(): Promise<void> {
    const vars = this.writeInputs();
    const nginx = this.writeNginxConfigs();
    await run(
      'docker',
      ['stack', 'deploy', '--resolve-image', 'never', '--prune', '-c', STACK_FILE, '-c', nginx, SWARM_STACK],
      {
        env: { ...process.env, ...vars, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' },
        stdio: 'inherit',
      },
    );
  }

  async up(): Promise<void> {
    await ensureTools('docker', 'mkcert');
    await this.docker.connect({ start: true });
    generateEnvFile(this.docker.envFile);
    ensureLocalCertificates(join(repoRoot, 'certs'), { quiet: true });
    if (await this.docker.containerOf('nginx'))
      throw new CliError('the compose stack holds the edge ports: make down first (both publish HTTP_PORT/HTTPS_PORT)');
    await this.ensureSwarm();
    await this.docker.ensureBaseImages();
    await this.docker.buildService();
    await this.deploy();
    await this.waitConverged();
    await this.pruneUnused();
    await announce({
      shape: `swarm, ${await this.replicas('service')} service replicas`,
      origin: this.origin,
      httpsPort: Number(this.setting('HTTPS_PORT', '443')),
      envFile: this.docker.envFile,
      caFile: join(repoRoot, 'certs/ca.crt'),
      usersCommand: (args) => `node ops/cli.ts swarm users ${args}`,
      notes: [`services: docker stack services ${SWARM_STACK}    update: make swarm-update    stop: make swarm-down`],
    });
  }

  /** Rolling update of the service: a fresh image, one replica at a time, start-first; swarm rolls back on failure. */
  async update(): Promise<void> {
    await this.docker.connect();
    await this.docker.buildService();
    const vars = this.writeInputs();
    const service = `${SWARM_STACK}_service`;
    log(`rolling update of ${service}`);
    await run(
      'docker',
      [
        'service',
        'update',
        '--detach=false',
        '--quiet',
        '--no-resolve-image',
        '--force',
        '--image',
        `authstack/service:${vars.SERVICE_TAG}`,
        service,
      ],
      {
        env: { ...process.env, DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: '1' },
        stdio: 'inherit',
      },
    );
    // The CLI returns once the tasks run; the update ends after its monitor period (stack.yml).
    const updateState = async () =>
      (
        await capture('docker', [
          'service',
          'inspect',
          '-f',
          '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}',
          service,
        ])
      ).trim();
    const state =
      (await waitFor(async () => ((s) => (s === 'updating' ? undefined : s))(await updateState()), {
        timeoutMs: 300_000,
        intervalMs: 1000,
      })) ?? 'updating';
    if (state !== 'completed')
      throw new CliError(
        `the update of ${service} ended ${state || 'without a status'} (swarm rolls back a failed update)`,
      );
    await this.waitConverged();
    log(`updated: ${await this.replicas('service')} replicas`);
  }

  async down(): Promise<void> {
    await this.docker.connect();
    if ((await capture('docker', ['info', '--format', '{{.Swarm.LocalNodeState}}'])).trim() !== 'active')
      return log('no swarm');
    await run('docker', ['stack', 'rm', SWARM_STACK], { stdio: 'inherit', allowFailure: true });
    // Networks go last, asynchronously: wait, so an immediate swarm-up does not trip on them.
    await waitFor(
      async () =>
        (
          await capture('docker', [
            'network',
            'ls',
            '-q',
            '--filter',
            `label=com.docker.stack.namespace=${SWARM_STACK}`,
          ])
        ).trim()
          ? undefined
          : true,
      {
        timeoutMs: 60_000,
      },
    );
  }

  /** `make users` inside a running service replica (the password on stdin, as with compose). */
  async users(args: string[], input?: string): Promise<number> {
    await this.docker.connect();
    const id = (await this.containersOf('service'))[0];
    if (!id) throw new CliError('no service replica is running (make swarm-up)');
    const stdio = input === undefined ? 'inherit' : 'pipe';
    const result = await run('docker', ['exec', '-i', id, 'node', 'dist/cli/users.js', ...args], {
      stdio,
      input,
      allowFailure: true,
    });
    if (result.code !== 0 && input !== undefined)
      say('swarm', `users ${args.join(' ')}: ${result.stderr.trim() || result.stdout.trim()}`);
    return result.code;
  }

  /** Running containers of one of the stack's services (single node: they are all local). */
  async containersOf(service: string): Promise<string[]> {
    const out = await capture('docker', [
      'ps',
      '-q',
      '--filter',
      `label=com.docker.swarm.service.name=${SWARM_STACK}_${service}`,
    ]);
    return out.split('\n').filter(Boolean);
  }

  async replicas(service: string): Promise<string> {
    return (
      await capture('docker', [
        'service',
        'ls',
        '--filter',
        `name=${SWARM_STACK}_${service}`,
        '--format',
        '{{.Replicas}}',
      ])
    ).trim();
  }

  /** Every service at its replica count with healthy tasks, and the edge answering /readyz with 200. */
  async waitConverged(timeoutMs = Number(this.env.WAIT_TIMEOUT ?? 180) * 1000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const origin = new URL(this.origin);
    let last = '';
    while (Date.now() < deadline) {
      const rows = (await capture('docker', ['stack', 'services', SWARM_STACK, '--format', '{{.Name}} {{.Replicas}}']))
        .trim()
        .split('\n')
        .filter(Boolean);
      const pending = rows.filter((row) => {
        const [running, desired] = (row.split(' ')[1] ?? '0/1').split('/');
        return running !== desired;
      });
      const unhealthy = (
        await capture('docker', [
          'ps',
          '--filter',
          `label=com.docker.stack.namespace=${SWARM_STACK}`,
          '--filter',
          'health=starting',
          '-q',
        ])
      ).trim();
      const edge = await probe(atPort(`${origin.origin}/readyz`, Number(this.setting('HTTPS_PORT', '443'))), {
        connectTo: '127.0.0.1',
        caFiles: [this.caFile],
      });
      if (rows.length > 0 && pending.length === 0 && !unhealthy && edge.status === 200) return;
      last = `${pending.join(', ') || 'replicas ok'}; ${unhealthy ? 'health checks starting' : 'healthy'}; edge /readyz ${edge.status || edge.error}`;
      await sleep(1000);
    }
    throw new CliError(
      `the swarm stack did not converge in ${timeoutMs / 1000} s: ${last}\n       docker stack ps ${SWARM_STACK} --no-trunc shows why`,
    );
  }

  /** Old secret and config versions no service uses any more (in-use ones are refused by the engine). */
  private async pruneUnused(): Promise<void> {
    for (const kind of ['secret', 'config']) {
      const names = (await capture('docker', [kind, 'ls', '--format', '{{.Name}}']))
        .split('\n')
        .filter((n) => n.startsWith('authstack_'));
      for (const name of names) await run('docker', [kind, 'rm', name], { allowFailure: true });
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
