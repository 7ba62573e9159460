import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalCertificates } from '../../testkit/certs.ts';
import { envFileText, readEnvFile } from '../../testkit/env-file.ts';
import { atPort, probe } from '../../testkit/http.ts';
import { isPortFree } from '../../testkit/ports.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { generateEnvFile } from '../env-gen.ts';
import { announce } from '../lib/access.ts';
import { CliError, say } from '../lib/log.ts';
import { run, waitFor, type RunOptions } from '../../testkit/run.ts';
import { ensureTools } from '../lib/tools.ts';
import { COMPOSE_FILES, writeComposeInputs } from './compose-inputs.ts';
import { findEngine, startEngine } from './engine.ts';
import { buildStandinImages, neededImages } from './standin-images.ts';

const log = (message: string) => say('docker-stack', message);
const CA_FILE = join(repoRoot, 'certs/ca.crt');
const STATE_FORMAT = '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}';
const HEALTH_LOG_FORMAT = '{{.Name}}: {{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{end}}{{end}}';

/** `docker compose` (v2) where the CLI has it, else docker-compose (v1, Debian's). */
export async function composeCommand(): Promise<string[]> {
  const v2 = (await run('docker', ['compose', 'version'], { allowFailure: true })).code === 0;
  if (!v2) await ensureTools('docker-compose');
  return v2 ? ['docker', 'compose'] : ['docker-compose'];
}

/**
 * The Docker Compose stack (docker-compose.yml). The tooling, not compose, reads .env (with the
 * one env reader) and hands compose the files compose-inputs.ts writes.
 */
export class DockerStack {
  readonly envFile: string;
  readonly env: NodeJS.ProcessEnv;
  readonly runDir = fromRepo('.run/docker');
  readonly secretsDir = fromRepo('.secrets');
  private readonly smokeFile = fromRepo('.run/smoke.env');
  private composeCommand: string[] | undefined;

  constructor(options: { envFile?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.env = options.env ?? process.env;
    this.envFile = fromRepo(options.envFile ?? this.env.ENV_FILE ?? '.env');
  }

  /** A stack setting as compose would resolve it: the shell environment wins over .env. */
  setting(name: string, fallback: string): string {
    return this.env[name] || readEnvFile(this.envFile)[name] || fallback;
  }

  /** COMPOSE_PROJECT_NAME keeps a second checkout's containers, networks and volumes apart. */
  get project(): string {
    return this.setting('COMPOSE_PROJECT_NAME', 'authstack');
  }

  private get origin(): string {
    return this.setting('PUBLIC_ORIGIN', 'https://localhost');
  }

  private get httpsPort(): string {
    return this.setting('HTTPS_PORT', '443');
  }

  /** COMPOSE_PROFILES from the environment or .env (monitoring, grafana, ha), and acme with TLS_MODE=acme. */
  profiles(list = this.setting('COMPOSE_PROFILES', '')): string[] {
    const named = list.split(',').flatMap((profile) => profile.trim() || []);
    const acme = this.setting('TLS_MODE', '') === 'acme' && !named.includes('acme') ? ['acme'] : [];
    return [...named, ...acme];
  }

  /** Connects to an answering engine (starting one only when asked). */
  async connect(options: { start?: boolean } = {}): Promise<void> {
    const host = options.start ? await startEngine() : await findEngine();
    if (!host) throw new CliError('no Docker engine answers; start the stack with: make up STACK=docker');
    process.env.DOCKER_HOST = host;
  }

  private async compose(args: string[], options: RunOptions & { profiles?: string[] } = {}) {
    this.composeCommand ??= await composeCommand();
    const [command, ...rest] = this.composeCommand;
    const project = ['-p', this.project, ...COMPOSE_FILES.flatMap((file) => ['-f', join(repoRoot, file)])];
    return run(command!, [...rest, ...project, '--env-file', join(this.runDir, 'compose.env'), ...args], {
      ...options,
      env: { ...process.env, COMPOSE_PROFILES: (options.profiles ?? this.profiles()).join(',') },
      cwd: repoRoot,
    });
  }

  /** Compose reads compose.env for every command, even `ps` or `down` in a checkout never started. */
  private ensureComposeInputs(): void {
    if (!existsSync(join(this.runDir, 'compose.env'))) this.writeComposeInputs();
  }

  /** Any compose command with this project's options (make ps, or `ops docker compose ...`). */
  async passthrough(args: string[]): Promise<number> {
    this.ensureComposeInputs();
    return (await this.compose(args, { stdio: 'inherit', allowFailure: true })).code;
  }

  async containerOf(service: string): Promise<string | undefined> {
    const labels = [`project=${this.project}`, `service=${service}`];
    const filters = labels.flatMap((label) => ['--filter', `label=com.docker.compose.${label}`]);
    const { stdout } = await run('docker', ['ps', '-q', ...filters], { allowFailure: true });
    return stdout.trim().split('\n')[0] || undefined;
  }

  writeComposeInputs(): void {
    writeComposeInputs(this);
  }

  /** PUBLIC_ORIGIN is what browsers send as Origin: its port must be the published HTTPS port. */
  private checkOrigin(): void {
    const origin = new URL(this.origin);
    const port = this.httpsPort;
    const originPort = origin.port || '443';
    if (origin.protocol !== 'https:')
      throw new CliError(`PUBLIC_ORIGIN must look like https://host[:port], got '${origin.href}'`);
    if (originPort !== port)
      throw new CliError(`PUBLIC_ORIGIN=${origin.origin} but HTTPS_PORT=${port}: browsers would send Origin https://${origin.hostname}${port === '443' ? '' : `:${port}`}.
       Set PUBLIC_ORIGIN to that in ${this.envFile} (or use HTTPS_PORT=${originPort}).`);
  }

  /** Fail early and clearly when another process (a native stack, say) holds a port we publish. */
  private async checkPorts(): Promise<void> {
    if (await this.containerOf('nginx')) return;
    for (const port of [this.setting('HTTP_PORT', '80'), this.httpsPort])
      if (!(await isPortFree(Number(port), '0.0.0.0')))
        throw new CliError(`port ${port} is already in use on this machine (a native stack? 'make down STACK=native').
       Free it, or publish elsewhere: HTTP_PORT=8080 HTTPS_PORT=8443 with PUBLIC_ORIGIN=https://localhost:8443 in .env.`);
  }

  /**
   * Every base image must exist before compose runs: a missing one makes compose pull, which
   * fails without a registry. Pull what is missing; when that fails, build the stand-ins.
   */
  async ensureBaseImages(): Promise<void> {
    const needed = neededImages(this.profiles());
    const missing: string[] = [];
    for (const image of needed)
      if ((await run('docker', ['image', 'inspect', image], { allowFailure: true })).code !== 0) missing.push(image);
    if (missing.length === 0) return log(`base images present: ${needed.join(' ')}`);
    for (const image of missing) {
      log(`pulling ${image}`);
      if ((await run('docker', ['pull', '-q', image], { allowFailure: true, timeoutMs: 120_000 })).code !== 0) {
        log(`cannot pull ${image} (no registry?): building local stand-ins (deploy/standin/)`);
        return buildStandinImages({ profiles: this.profiles() });
      }
    }
  }

  /** Builds the service image (labels from the commit, so an unchanged tree builds the same image). */
  async buildService(): Promise<void> {
    const head = await run('git', ['-C', repoRoot, 'log', '-1', '--format=%H %cI'], { allowFailure: true });
    const [revision, created] = head.stdout.trim().split(' ');
    this.env.GIT_REVISION = revision || 'unknown';
    this.env.BUILD_CREATED = created || 'unknown';
    this.writeComposeInputs();
    const images = ['service', ...(this.profiles().includes('acme') ? ['acme'] : [])];
    log(`building the image(s): ${images.join(', ')}`);
    await this.compose(['build', ...images], { stdio: 'inherit' });
  }

  /** Every container of the project healthy (or running, without a healthcheck); fails at once when one dies. */
  async waitHealthy(): Promise<void> {
    const timeoutMs = Number(this.env.WAIT_TIMEOUT ?? 180) * 1000;
    let ids: string[] = [];
    let pending: string[] = [];
    const healthy = await waitFor(
      async () => {
        ids = (await this.compose(['ps', '-q'])).stdout.trim().split('\n').filter(Boolean);
        if (ids.length === 0) throw new CliError(`no containers in project ${this.project}`);
        const states = (await run('docker', ['inspect', '-f', STATE_FORMAT, ...ids])).stdout.trim().split('\n');
        const failed = states.find((state) => / (exited|dead) | running unhealthy$/.test(state));
        if (failed) throw new CliError(`container ${failed}`);
        pending = states.filter((state) => !/ running (healthy|none)$/.test(state));
        return pending.length === 0 ? true : undefined;
      },
      { timeoutMs, intervalMs: 2000 },
    );
    if (healthy) return;
    const health = await run('docker', ['inspect', '-f', HEALTH_LOG_FORMAT, ...ids], { allowFailure: true });
    process.stderr.write(health.stdout);
    throw new CliError(`not healthy after ${timeoutMs / 1000}s: ${pending.join(', ')}`);
  }

  /**
   * nginx resolves the service's name once, at start, and a recreated container may have a new
   * address: a reload makes new workers resolve it again (old ones finish their requests).
   */
  async reloadNginx(): Promise<void> {
    const id = await this.containerOf('nginx');
    if (!id) return;
    await run('docker', ['exec', id, 'nginx', '-s', 'reload']);
    log("nginx reloaded (re-resolves the service's address)");
  }

  /** GET /healthz through nginx, as a browser reaches it (HTTPS, our CA). */
  private async probeEdge(): Promise<void> {
    const url = atPort(`${this.origin}/healthz`, Number(this.httpsPort));
    let last = '';
    const ok = await waitFor(
      async () => {
        // With TLS_MODE=acme the CA's certificate may still be on its way (the placeholder meanwhile).
        const insecure = this.profiles().includes('acme');
        const client = { connectTo: '127.0.0.1', caFiles: [CA_FILE], timeoutMs: 5000, insecure };
        const { status, error } = await probe(url, client);
        last = `${status} ${error ?? ''}`;
        return status === 200 ? true : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 1000 },
    );
    if (!ok)
      throw new CliError(`the stack is up but ${this.origin}/healthz does not answer through nginx (last: ${last})`);
  }

  /** How smoke/acme.smoke.ts reaches the renewer: its published metrics, SIGUSR2, a restart. */
  private acmeSmokeCommands(): Record<string, string> {
    const docker = `DOCKER_HOST='${process.env.DOCKER_HOST ?? ''}' docker`;
    const cli = `STACK=docker ENV_FILE='${this.envFile}' '${process.execPath}' '${join(repoRoot, 'ops/cli.ts')}'`;
    return {
      SMOKE_ACME_METRICS_CMD: `curl -fsS http://127.0.0.1:${this.setting('ACME_METRICS_PORT', '9465')}/metrics`,
      SMOKE_ACME_RENEW_CMD: `${docker} kill -s USR2 "$(${docker} ps -qf label=com.docker.compose.project=${this.project} -f label=com.docker.compose.service=acme)"`,
      SMOKE_RESTART_CMD: `${cli} restart acme`,
    };
  }

  private async writeSmokeFile(): Promise<void> {
    const origin = new URL(this.origin);
    const httpPort = this.setting('HTTP_PORT', '80');
    // Docker's userland proxy forwards published ports from the edge network's gateway
    // address: that is the client IP nginx (and so the service) sees for local requests.
    const inspect = ['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Gateway}}{{end}}', `${this.project}_edge`];
    const gateway = (await run('docker', inspect, { allowFailure: true })).stdout.trim();
    const vars = {
      BASE_URL: origin.origin,
      SMOKE_HTTP_URL: `http://${origin.hostname}${httpPort === '80' ? '' : `:${httpPort}`}`,
      SMOKE_ENV_FILE: this.envFile,
      SMOKE_CA_FILE: CA_FILE,
      SMOKE_SERVICE_LOG_CMD: `node ${join(repoRoot, 'ops/cli.ts')} docker service-logs`,
      ...(gateway ? { SMOKE_EXPECTED_CLIENT_IP: gateway } : {}),
      ...(this.profiles().includes('acme') ? this.acmeSmokeCommands() : {}),
    };
    writeFileSync(this.smokeFile, envFileText('Written by the Docker stack (make up); removed by make down.', vars));
  }

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
      origin: this.origin,
      httpsPort: Number(this.httpsPort),
      envFile: this.envFile,
      caFile: CA_FILE,
      usersCommand: (args) => `make users ${args} STACK=docker`,
      notes: [`CA certificate to trust: ${CA_FILE}`, 'logs: make logs    services: make ps    stop: make down'],
    });
  }

  async down(extra: string[] = []): Promise<void> {
    await this.connect();
    this.ensureComposeInputs();
    // Every profile unless the environment names some, so services started with one stop too.
    const profiles = this.profiles(this.env.COMPOSE_PROFILES || 'monitoring,grafana,ha,acme');
    await this.compose(['down', '--remove-orphans', ...extra], { stdio: 'inherit', profiles });
    if (readEnvFile(this.smokeFile).SMOKE_SERVICE_LOG_CMD?.includes(' docker '))
      rmSync(this.smokeFile, { force: true });
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

  private async serviceContainer(): Promise<string> {
    await this.connect();
    const id = await this.containerOf('service');
    if (!id) throw new CliError('the service is not running (make up)');
    return id;
  }

  async users(args: string[]): Promise<number> {
    const id = await this.serviceContainer();
    const tty = process.stdin.isTTY && process.stdout.isTTY ? ['-it'] : ['-i'];
    const cli = ['exec', ...tty, id, 'node', 'dist/cli/users.js', ...args];
    return (await run('docker', cli, { stdio: 'inherit', allowFailure: true })).code;
  }

  async serviceLogs(): Promise<string> {
    const result = await run('docker', ['logs', await this.serviceContainer()]);
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
