import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalCertificates } from '../../testkit/certs.ts';
import { generateEnvFile } from '../env-gen.ts';
import { readEnvFile } from '../../testkit/env-file.ts';
import { announce } from '../lib/access.ts';
import { CliError, say } from '../lib/log.ts';
import { isPortFree } from '../../testkit/ports.ts';
import { atPort, probe } from '../../testkit/http.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { capture, run, sleep, waitFor } from '../lib/run.ts';
import { ensureTools } from '../lib/tools.ts';
import { writeComposeInputs } from './compose-inputs.ts';
import { findEngine, startEngine } from './engine.ts';
import { buildStandinImages, neededImages } from './standin-images.ts';

const log = (message: string) => say('docker-stack', message);

/**
 * The Docker Compose stack (docker-compose.yml, project "authstack"). The tooling, not
 * compose, reads .env (with the one env reader), and hands compose three generated files under
 * .run/docker/ and .secrets/: the variables the compose file interpolates, the service's
 * settings (every config-schema key .env sets, as env_file), and the secrets (file secrets).
 * Runs `docker compose` (v2) when present, else `docker-compose` (v1.29).
 */
export class DockerStack {
  readonly envFile: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly runDir = fromRepo('.run/docker');
  private readonly secretsDir = fromRepo('.secrets');
  private readonly smokeFile = fromRepo('.run/smoke.env');
  private readonly waitTimeoutMs: number;
  private composeCommand: string[] | undefined;

  constructor(options: { envFile?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.env = options.env ?? process.env;
    this.envFile = fromRepo(options.envFile ?? this.env.ENV_FILE ?? '.env');
    this.waitTimeoutMs = Number(this.env.WAIT_TIMEOUT ?? 180) * 1000;
  }

  /** A stack setting as compose would resolve it: the shell environment wins over .env. */
  setting(name: string, fallback: string): string {
    return this.env[name] || readEnvFile(this.envFile)[name] || fallback;
  }

  /**
   * The compose project: names the containers, networks and volumes (<project>_redis-data).
   * COMPOSE_PROJECT_NAME (environment or .env) keeps a second checkout's stack and data apart.
   */
  get project(): string {
    return this.setting('COMPOSE_PROJECT_NAME', 'authstack');
  }

  /** COMPOSE_PROFILES from the environment or .env (monitoring, grafana, ha). */
  profiles(): string[] {
    return this.setting('COMPOSE_PROFILES', '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean);
  }

  /** Connects to an answering engine (starting one only when asked). */
  async connect(options: { start?: boolean } = {}): Promise<void> {
    const host = options.start ? await startEngine() : await findEngine();
    if (!host) throw new CliError('no Docker engine answers; start the stack with: make up STACK=docker');
    process.env.DOCKER_HOST = host;
  }

  private async compose(
    args: string[],
    options: { stdio?: 'inherit' | 'pipe'; allowFailure?: boolean; input?: string } = {},
  ) {
    if (!this.composeCommand) {
      const v2 = await run('docker', ['compose', 'version'], { allowFailure: true });
      if (v2.code === 0) this.composeCommand = ['docker', 'compose'];
      else {
        await ensureTools('docker-compose');
        this.composeCommand = ['docker-compose'];
      }
    }
    const [command, ...rest] = this.composeCommand;
    const env = { ...process.env, COMPOSE_PROFILES: this.profiles().join(',') };
    return run(
      command!,
      [
        ...rest,
        '-p',
        this.project,
        '-f',
        join(repoRoot, 'docker-compose.yml'),
        '--env-file',
        join(this.runDir, 'compose.env'),
        ...args,
      ],
      {
        ...options,
        env,
        cwd: repoRoot,
      },
    );
  }

  /** Any compose command with this project's options (make ps, or `ops docker compose ...`). */
  async passthrough(args: string[]): Promise<number> {
    if (!existsSync(join(this.runDir, 'compose.env'))) this.writeComposeInputs();
    return (await this.compose(args, { stdio: 'inherit', allowFailure: true })).code;
  }

  async containerOf(service: string): Promise<string | undefined> {
    const result = await run(
      'docker',
      [
        'ps',
        '-q',
        '--filter',
        `label=com.docker.compose.project=${this.project}`,
        '--filter',
        `label=com.docker.compose.service=${service}`,
      ],
      { allowFailure: true },
    );
    return result.stdout.trim().split('\n')[0] || undefined;
  }

  // --- inputs ------------------------------------------------------------------------------------

  /** Writes what compose reads from this checkout's .env (compose-inputs.ts). */
  writeComposeInputs(): void {
    writeComposeInputs({
      envFile: this.envFile,
      runDir: this.runDir,
      secretsDir: this.secretsDir,
      setting: (name, fallback) => this.setting(name, fallback),
      profiles: this.profiles(),
      env: this.env,
    });
  }

  /** PUBLIC_ORIGIN is what browsers send as Origin: its port must be the published HTTPS port. */
  private checkOrigin(): void {
    const origin = new URL(this.setting('PUBLIC_ORIGIN', 'https://localhost'));
    const port = this.setting('HTTPS_PORT', '443');
    const originPort = origin.port || '443';
    if (origin.protocol !== 'https:')
      throw new CliError(`PUBLIC_ORIGIN must look like https://host[:port], got '${origin.href}'`);
    if (originPort !== port) {
      throw new CliError(`PUBLIC_ORIGIN=${origin.origin} but HTTPS_PORT=${port}: browsers would send Origin https://${origin.hostname}${port === '443' ? '' : `:${port}`}.
       Set PUBLIC_ORIGIN to that in ${this.envFile} (or use HTTPS_PORT=${originPort}).`);
    }
  }

  /** Fail early and clearly when another process (a native stack, say) holds a port we publish. */
  private async checkPorts(): Promise<void> {
    if (await this.containerOf('nginx')) return;
    for (const port of [this.setting('HTTP_PORT', '80'), this.setting('HTTPS_PORT', '443')]) {
      if (!(await isPortFree(Number(port), '0.0.0.0'))) {
        throw new CliError(`port ${port} is already in use on this machine (a native stack? 'make down STACK=native').
       Free it, or publish elsewhere: HTTP_PORT=8080 HTTPS_PORT=8443 with PUBLIC_ORIGIN=https://localhost:8443 in .env.`);
      }
    }
  }

  /**
   * Every base image must exist before compose runs: a missing one makes compose pull, which
   * fails without a registry. Pull what is missing; when that fails, build the stand-ins.
   */
  async ensureBaseImages(): Promise<void> {
    const missing: string[] = [];
    const needed = neededImages(this.profiles());
    for (const image of needed)
      if ((await run('docker', ['image', 'inspect', image], { allowFailure: true })).code !== 0) missing.push(image);
    if (missing.length === 0) return log(`base images present: ${needed.join(' ')}`);
    for (const image of missing) {
      log(`pulling ${image}`);
      if ((await run('docker', ['pull', '-q', image], { allowFailure: true, timeoutMs: 120_000 })).code !== 0) {
        log(`cannot pull ${image} (no registry?): building local stand-ins (deploy/standin/)`);
        await buildStandinImages({ profiles: this.profiles() });
        return;
      }
    }
  }

  /** Builds the service image (labels from the commit, so an unchanged tree builds the same image). */
  async buildService(): Promise<void> {
    const revision =
      (await run('git', ['-C', repoRoot, 'rev-parse', 'HEAD'], { allowFailure: true })).stdout.trim() || 'unknown';
    const created =
      (await run('git', ['-C', repoRoot, 'log', '-1', '--format=%cI'], { allowFailure: true })).stdout.trim() ||
      'unknown';
    this.env.GIT_REVISION = revision;
    this.env.BUILD_CREATED = created;
    this.writeComposeInputs();
    log('building the service image');
    await this.compose(['build', 'service'], { stdio: 'inherit' });
  }

  /**
   * Waits until every running container of the project is healthy (or running, without a
   * healthcheck); fails with the unhealthy ones' last health output.
   */
  async waitHealthy(): Promise<void> {
    const deadline = Date.now() + this.waitTimeoutMs;
    for (;;) {
      const ids = (await this.compose(['ps', '-q'])).stdout.trim().split('\n').filter(Boolean);
      if (ids.length === 0) throw new CliError(`no containers in project ${this.project}`);
      const pending: string[] = [];
      for (const id of ids) {
        const state = await capture('docker', [
          'inspect',
          '-f',
          '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}',
          id,
        ]);
        if (/ running (healthy|none)$/.test(state)) continue;
        if (/ (exited|dead) | running unhealthy$/.test(state)) throw new CliError(`container ${state}`);
        pending.push(state);
      }
      if (pending.length === 0) return;
      if (Date.now() > deadline) {
        for (const id of ids)
          process.stderr.write(
            `${(await run('docker', ['inspect', '-f', '{{.Name}}: {{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{end}}{{end}}', id], { allowFailure: true })).stdout}\n`,
          );
        throw new CliError(`not healthy after ${this.waitTimeoutMs / 1000}s: ${pending.join(', ')}`);
      }
      await sleep(2000);
    }
  }

  /**
   * nginx resolves the service's name once, at start; a recreated service container may have a
   * new address. A reload makes new workers resolve it again (old ones finish their requests).
   */
  async reloadNginx(): Promise<void> {
    const id = await this.containerOf('nginx');
    if (!id) return;
    await run('docker', ['exec', id, 'nginx', '-s', 'reload']);
    log("nginx reloaded (re-resolves the service's address)");
  }

  /** GET /healthz through nginx, as a browser reaches it (HTTPS, our CA). */
  private async probeEdge(): Promise<void> {
    const origin = this.setting('PUBLIC_ORIGIN', 'https://localhost');
    const port = Number(this.setting('HTTPS_PORT', '443'));
    let last = '';
    const ok = await waitFor(
      async () => {
        const { status, error } = await probe(atPort(`${origin}/healthz`, port), {
          connectTo: '127.0.0.1',
          caFiles: [join(repoRoot, 'certs/ca.crt')],
          timeoutMs: 5000,
        });
        last = `${status} ${error ?? ''}`;
        return status === 200 ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 1000 },
    );
    if (!ok) throw new CliError(`the stack is up but ${origin}/healthz does not answer through nginx (last: ${last})`);
  }

  private async writeSmokeFile(): Promise<void> {
    const origin = new URL(this.setting('PUBLIC_ORIGIN', 'https://localhost'));
    const httpPort = this.setting('HTTP_PORT', '80');
    // Docker's userland proxy forwards published ports from the edge network's gateway
    // address: that is the client IP nginx (and so the service) sees for local requests.
    const gateway = (
      await run(
        'docker',
        ['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Gateway}}{{end}}', `${this.project}_edge`],
        { allowFailure: true },
      )
    ).stdout.trim();
    mkdirSync(fromRepo('.run'), { recursive: true });
    writeFileSync(
      this.smokeFile,
      [
        '# Written by the Docker stack (make up); removed by make down.',
        `BASE_URL=${origin.origin}`,
        `SMOKE_HTTP_URL=http://${origin.hostname}${httpPort === '80' ? '' : `:${httpPort}`}`,
        `SMOKE_ENV_FILE=${this.envFile}`,
        `SMOKE_CA_FILE=${join(repoRoot, 'certs/ca.crt')}`,
        `SMOKE_SERVICE_LOG_CMD=node ${join(repoRoot, 'ops/cli.ts')} docker service-logs`,
        ...(gateway ? [`SMOKE_EXPECTED_CLIENT_IP=${gateway}`] : []),
        '',
      ].join('\n'),
    );
  }

  // --- commands ----------------------------------------------------------------------------------

  async up(): Promise<void> {
    await ensureTools('docker', 'mkcert');
    await this.connect({ start: true });
    generateEnvFile(this.envFile);
    this.checkOrigin();
    // Only the leaf certificate is mounted into nginx; never the CA key.
    ensureLocalCertificates(join(repoRoot, 'certs'), { quiet: true });
    this.writeComposeInputs();
    await this.checkPorts();
    await this.ensureBaseImages();
    await this.buildService();
    log('starting the stack');
    await this.compose(['up', '-d', '--remove-orphans'], { stdio: 'inherit' });
    await this.waitHealthy();
    // compose may have recreated the service (new image or settings) and kept nginx.
    await this.reloadNginx();
    await this.probeEdge();
    await this.writeSmokeFile();
    await announce({
      shape: 'docker',
      origin: this.setting('PUBLIC_ORIGIN', 'https://localhost'),
      httpsPort: Number(this.setting('HTTPS_PORT', '443')),
      envFile: this.envFile,
      caFile: join(repoRoot, 'certs/ca.crt'),
      usersCommand: (args) => `make users ${args} STACK=docker`,
      notes: [
        `CA certificate to trust: ${join(repoRoot, 'certs/ca.crt')}`,
        'logs: make logs    services: make ps    stop: make down',
      ],
    });
  }

  async down(extra: string[] = []): Promise<void> {
    await this.connect();
    if (!existsSync(join(this.runDir, 'compose.env'))) this.writeComposeInputs();
    // Name every profile too, so services started with one are stopped as well.
    const previous = this.env.COMPOSE_PROFILES;
    this.env.COMPOSE_PROFILES = previous || 'monitoring,grafana,ha';
    try {
      await this.compose(['down', '--remove-orphans', ...extra], { stdio: 'inherit' });
    } finally {
      this.env.COMPOSE_PROFILES = previous;
    }
    if (existsSync(this.smokeFile) && readEnvFile(this.smokeFile).SMOKE_SERVICE_LOG_CMD?.includes(' docker ')) {
      rmSync(this.smokeFile, { force: true });
    }
  }

  async restart(services: string[]): Promise<void> {
    await this.connect();
    await this.compose(['restart', ...services], { stdio: 'inherit' });
    await this.waitHealthy();
    if (services.length === 0 || services.includes('service')) await this.reloadNginx();
  }

  /** New containers (they re-read .secrets/ and service.env), then healthy. */
  async recreate(services: string[]): Promise<void> {
    if (services.length === 0) throw new CliError('recreate needs service names');
    await this.connect();
    this.writeComposeInputs();
    await this.compose(['up', '-d', '--no-deps', '--force-recreate', ...services], { stdio: 'inherit' });
    await this.waitHealthy();
    if (services.includes('service')) await this.reloadNginx();
  }

  async users(args: string[]): Promise<number> {
    await this.connect();
    const id = await this.containerOf('service');
    if (!id) throw new CliError('the service is not running (make up)');
    const tty = process.stdin.isTTY && process.stdout.isTTY ? ['-it'] : ['-i'];
    return (
      await run('docker', ['exec', ...tty, id, 'node', 'dist/cli/users.js', ...args], {
        stdio: 'inherit',
        allowFailure: true,
      })
    ).code;
  }

  async serviceLogs(): Promise<string> {
    await this.connect();
    const id = await this.containerOf('service');
    if (!id) throw new CliError('the service is not running');
    const result = await run('docker', ['logs', id]);
    return result.stdout + result.stderr;
  }

  async logs(follow: boolean, services: string[]): Promise<number> {
    await this.connect();
    return this.passthrough(['logs', '--no-color', '--tail=500', ...(follow ? ['-f'] : []), ...services]);
  }

  async isServiceRunning(): Promise<boolean> {
    const host = await findEngine();
    if (!host) return false;
    process.env.DOCKER_HOST = host;
    return (await this.containerOf('service')) !== undefined;
  }
}
