import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ACME_CONFIG_KEYS } from '../../service/src/acme/acme-config.ts';
import { readCertificate } from '../../service/src/acme/certificate-files.ts';
import { ensureLocalCertificates } from '../../testkit/certs.ts';
import { envFileText, envValue, readEnvFile } from '../../testkit/env-file.ts';
import { atPort, probe } from '../../testkit/http.ts';
import { renderNginx } from '../../testkit/nginx.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { run } from '../../testkit/run.ts';
import { generateEnvFile } from '../env-gen.ts';
import { announce } from '../lib/access.ts';
import { buildIfStale } from '../lib/build.ts';
import { CliError, say } from '../lib/log.ts';
import { redisConfString, writeSecretFiles } from '../lib/secrets.ts';
import { DEFAULT_ACCESS_RULES, SECRET_FILES, assertValidServiceConfig, serviceEnvFrom } from '../lib/service-env.ts';
import { ensureTools } from '../lib/tools.ts';
import { Daemons } from './daemons.ts';
import { acmePaths, makeAcmeWebroot, nginxArgs, nginxVars, planStack, type StackState } from './stack-plan.ts';

const log = (message: string) => say('native-stack', message);

/** Settings the native stack decides for the service; .env values for them are not used. */
const STACK_OWNED = ['HOST', 'PORT', 'REDIS_URL', 'TRUST_PROXY', 'COOKIE_SECURE'];
/** Every process the native stack may run, in start order; `acme` (the certificate renewer) only with TLS_MODE=acme. */
const COMPONENTS = ['redis', 'service', 'nginx', 'acme'] as const;
type Component = (typeof COMPONENTS)[number];
/** Waits until `ready` says so while the component runs (Daemons.waitReady, with its log). */
type WaitReady = (what: string, ready: () => Promise<boolean>) => Promise<void>;
const componentsOf = (state: StackState | undefined): Component[] =>
  COMPONENTS.filter((name) => name !== 'acme' || state?.tlsMode === 'acme');

/**
 * The stack without Docker: redis-server, the built service and nginx as detached processes
 * of a run directory, with the same configuration files as the compose stack. Secrets never
 * reach a command line: Redis reads its password from a 0600 config file, the service reads
 * NAME_FILE files in a 0700 directory, and redis-cli gets REDISCLI_AUTH.
 */
export class NativeStack {
  readonly runDir: string;
  readonly envFile: string;
  readonly certsDir: string;
  private readonly env: NodeJS.ProcessEnv;
  private readonly daemons: Daemons;
  private readonly stopTimeoutMs: number;
  private readonly readyTimeoutMs: number;

  /** `env`: where the port and TLS choices come from (HTTPS_PORT, TLS_CERT, ...). */
  constructor(options: { runDir?: string; envFile?: string; certsDir?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.env = options.env ?? process.env;
    this.runDir = fromRepo(options.runDir ?? this.env.RUN_DIR ?? '.run/native');
    this.envFile = fromRepo(options.envFile ?? this.env.ENV_FILE ?? '.env');
    this.certsDir = fromRepo(options.certsDir ?? this.env.CERTS_DIR ?? 'certs');
    const node = process.execPath;
    this.daemons = new Daemons(this.runDir, { nginx: 'nginx', service: node, redis: 'redis-server', acme: node });
    // Redis writes its AOF/RDB on TERM; give it time before KILL.
    this.stopTimeoutMs = Number(this.env.STOP_TIMEOUT ?? 15) * 1000;
    this.readyTimeoutMs = Number(this.env.READY_TIMEOUT ?? 60) * 1000;
  }

  private at(name: string): string {
    return join(this.runDir, name);
  }

  private loadState(): StackState | undefined {
    const file = this.at('stack.json');
    return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as StackState) : undefined;
  }

  /** The recorded state; with `component`, that component must be running too. */
  private requireState(component?: Component): StackState {
    const state = this.loadState();
    if (!state) throw new CliError(`no stack in ${this.runDir}; start it with: make up`);
    if (component && !this.daemons.isRunning(component))
      throw new CliError(`${component} is not running; start the stack with: make up`);
    return state;
  }

  async up(): Promise<void> {
    let state = this.loadState();
    if (state && componentsOf(state).every((name) => this.daemons.isRunning(name))) {
      log(`already running in ${this.runDir}`);
      return this.announce(state);
    }
    await ensureTools('redis-server', 'redis-cli', 'nginx', 'mkcert');
    await buildIfStale();
    generateEnvFile(this.envFile);
    // Ports and TLS files: while any component runs, the recorded ones stand.
    if (!state || !COMPONENTS.some((name) => this.daemons.isRunning(name))) {
      const dirs = { certsDir: this.certsDir, runDir: this.runDir };
      state = await planStack(this.env, readEnvFile(this.envFile), dirs);
      writeFileSync(this.at('stack.json'), `${JSON.stringify(state, null, 2)}\n`);
    }
    if (state.tlsMode === 'acme') {
      await ensureTools('certbot', 'openssl');
      makeAcmeWebroot(this.runDir);
      // The renewer's settings are checked, and a certificate put in place, before nginx starts.
      await run(process.execPath, ['dist/acme-renewer.js', 'prepare'], { env: this.renewerEnv(state), cwd: repoRoot });
    }
    if (state.caFile) ensureLocalCertificates(this.certsDir, { quiet: true });
    for (const file of [state.tlsCert, state.tlsKey])
      if (!existsSync(file)) throw new CliError(`TLS_CERT/TLS_KEY not readable: ${file}`);
    // Fail before starting anything when the service would refuse the configuration.
    assertValidServiceConfig(this.serviceEnv(state), this.envFile);
    for (const name of componentsOf(state)) await this.start(name, state);
    await this.waitEdgeReady(state);
    // How the smoke tests reach this stack (docs/edge.md, SMOKE_STACK_FILE); `make smoke` finds
    // the one `make up` started in the default run directory.
    writeFileSync(this.at('smoke.env'), this.smokeEnv(state));
    if (this.runDir === fromRepo('.run/native')) copyFileSync(this.at('smoke.env'), fromRepo('.run/smoke.env'));
    await this.announce(state);
  }

  async down(): Promise<void> {
    let stopped = false;
    // nginx first (QUIT lets workers finish in-flight requests), Redis last.
    for (const name of [...COMPONENTS].reverse()) {
      const signal = name === 'nginx' ? 'SIGQUIT' : 'SIGTERM';
      if (!(await this.daemons.stop(name, { signal, timeoutMs: this.stopTimeoutMs }))) continue;
      log(`stopped ${name}`);
      stopped = true;
    }
    if (!stopped) log(`nothing running in ${this.runDir}`);
    // .run/smoke.env only when it still describes this stack (the Docker stack writes it too).
    const [mine, shared] = [this.at('smoke.env'), fromRepo('.run/smoke.env')];
    if (existsSync(mine) && existsSync(shared) && readFileSync(mine, 'utf8') === readFileSync(shared, 'utf8'))
      rmSync(shared);
    rmSync(mine, { force: true });
  }

  ps(): void {
    const state = this.loadState();
    const address: Record<Component, string> = {
      redis: `127.0.0.1:${state?.redisPort ?? '?'}`,
      service: `127.0.0.1:${state?.servicePort ?? '?'}`,
      nginx: `${state?.publicOrigin ?? '?'} (http ${state?.httpPort ?? '?'})`,
      acme: `metrics http://127.0.0.1:${state?.acmeMetricsPort ?? '?'}/metrics`,
    };
    const row = (...cells: string[]) => `${cells.map((cell, i) => (i < 3 ? cell.padEnd(8) : cell)).join(' ')}\n`;
    process.stdout.write(row('NAME', 'STATE', 'PID', 'ADDRESS'));
    for (const name of componentsOf(state)) {
      const pid = this.daemons.pidOf(name);
      process.stdout.write(row(name, pid ? 'running' : 'stopped', String(pid ?? '-'), address[name]));
    }
  }

  /** Log files of the named components (all when none is named). */
  logFiles(components: string[]): string[] {
    const known: readonly string[] = componentsOf(this.loadState());
    const unknown = components.find((name) => !known.includes(name));
    if (unknown !== undefined) throw new CliError(`logs: unknown component '${unknown}' (${known.join(', ')})`);
    const files = (components.length > 0 ? components : known).map((name) => this.at(`${name}.log`));
    if (!files.some((file) => existsSync(file)))
      throw new CliError(`no logs in ${this.runDir} yet; start the stack with: make up`);
    return files;
  }

  async restart(component = 'all'): Promise<void> {
    const state = this.requireState();
    if (component === 'all') {
      await this.down();
      // On the same ports: with nothing running, `up` would choose them afresh.
      const env = {
        ...this.env,
        HTTPS_PORT: String(state.httpsPort),
        HTTP_PORT: String(state.httpPort),
        SERVICE_PORT: String(state.servicePort),
        REDIS_PORT: String(state.redisPort),
        ...(state.acmeMetricsPort ? { ACME_METRICS_PORT: String(state.acmeMetricsPort) } : {}),
      };
      return new NativeStack({ runDir: this.runDir, envFile: this.envFile, certsDir: this.certsDir, env }).up();
    }
    const name = componentsOf(state).find((known) => known === component);
    if (!name)
      throw new CliError(`restart: unknown component '${component}' (service, nginx, redis, or nothing for all)`);
    if (name === 'nginx' && this.daemons.isRunning('nginx')) {
      // Re-render from nginx/ and reload gracefully (HUP): new workers, no dropped requests.
      await this.renderNginxConf(state);
      this.daemons.signal('nginx', 'SIGHUP');
      log('nginx reloaded');
    } else {
      if (name === 'service') await buildIfStale();
      await this.daemons.stop(name, { timeoutMs: this.stopTimeoutMs });
      await this.start(name, state);
    }
    // Redis and the renewer have waited for their own readiness; the edge is checked after the service or nginx.
    if (name === 'service' || name === 'nginx') await this.waitEdgeReady(state);
  }

  /** The operator CLI against this stack's Redis, with the service's environment. */
  async users(args: string[]): Promise<number> {
    const state = this.requireState('redis');
    await buildIfStale();
    const options = { env: this.serviceEnv(state), cwd: repoRoot, stdio: 'inherit', allowFailure: true } as const;
    return (await run(process.execPath, [join(repoRoot, 'dist/cli/users.js'), ...args], options)).code;
  }

  /** Where Redis listens and its password, for backups. */
  redisEndpoint(): { port: number; password: string } {
    return { port: this.requireState('redis').redisPort, password: envValue(this.envFile, 'REDIS_PASSWORD') ?? '' };
  }

  isServiceRunning(): boolean {
    return this.daemons.isRunning('service');
  }

  /** The service's environment: .env's settings, this stack's values, secrets as files. */
  private serviceEnv(state: StackState): NodeJS.ProcessEnv {
    const { settings, secrets, overridden } = serviceEnvFrom(readEnvFile(this.envFile), STACK_OWNED);
    for (const key of overridden) log(`${key} in ${this.envFile} is not used: the native stack sets it`);
    const fileOf = (key: string) => SECRET_FILES[key as keyof typeof SECRET_FILES];
    const files = Object.entries(secrets).map(([key, value]) => ({ key, value, file: fileOf(key) }));
    writeSecretFiles(this.at('secrets'), Object.fromEntries(files.map(({ file, value }) => [file, value])));
    return {
      // Nothing from the caller's shell leaks in by accident: only what is listed here.
      PATH: process.env.PATH,
      HOME: process.env.HOME ?? '/',
      NODE_ENV: 'production',
      ...settings,
      // Relative paths in .env are the checkout's, wherever the service runs from.
      ACCESS_RULES_FILE: fromRepo(settings.ACCESS_RULES_FILE ?? DEFAULT_ACCESS_RULES),
      HOST: '127.0.0.1',
      PORT: String(state.servicePort),
      REDIS_URL: `redis://127.0.0.1:${state.redisPort}`,
      PUBLIC_ORIGIN: state.publicOrigin,
      // Only nginx on this machine may say who the client is (X-Forwarded-For).
      TRUST_PROXY: 'loopback',
      COOKIE_SECURE: 'true',
      ...Object.fromEntries(files.map(({ key, file }) => [`${key}_FILE`, join(this.at('secrets'), file)])),
    };
  }

  /** The renewer's environment (TLS_MODE=acme): .env's ACME settings and this run's paths and ports. */
  private renewerEnv(state: StackState): NodeJS.ProcessEnv {
    const [dotenv, paths] = [readEnvFile(this.envFile), acmePaths(this.runDir)];
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME ?? '/',
      ...Object.fromEntries(ACME_CONFIG_KEYS.filter((key) => dotenv[key]).map((key) => [key, dotenv[key]])),
      PUBLIC_ORIGIN: state.publicOrigin,
      ACME_STATE_DIR: paths.state,
      ACME_WEBROOT: paths.webroot,
      TLS_CERT: paths.cert,
      TLS_KEY: paths.key,
      ACME_METRICS_HOST: '127.0.0.1',
      ACME_METRICS_PORT: String(state.acmeMetricsPort),
      ACME_NGINX_PIDFILE: this.at('nginx/nginx.pid'),
    };
  }

  /** How the smoke tests reach this stack (docs/edge.md, SMOKE_STACK_FILE). */
  private smokeEnv(state: StackState): string {
    const { hostname } = new URL(state.publicOrigin);
    return envFileText('Written by the native stack (make up): how the smoke tests reach this stack.', {
      BASE_URL: state.publicOrigin,
      SMOKE_HTTP_URL: `http://${hostname}${state.httpPort === 80 ? '' : `:${state.httpPort}`}`,
      SMOKE_ENV_FILE: this.envFile,
      SMOKE_CA_FILE: state.caFile ?? '',
      SMOKE_SERVICE_LOG_CMD: `cat '${this.at('service.log')}'`,
      ...(state.tlsMode === 'acme' && {
        SMOKE_ACME_METRICS_CMD: `curl -fsS http://127.0.0.1:${state.acmeMetricsPort}/metrics`,
        SMOKE_ACME_RENEW_CMD: `kill -USR2 "$(cat '${this.at('acme.pid')}')"`,
        SMOKE_RESTART_CMD: `STACK=native RUN_DIR='${this.runDir}' ENV_FILE='${this.envFile}' '${process.execPath}' '${join(repoRoot, 'ops/cli.ts')}' restart`,
      }),
    });
  }

  /** Starts a component unless it runs already, and waits until it is ready; when it is not, its log says why. */
  private async start(name: Component, state: StackState): Promise<void> {
    if (this.daemons.isRunning(name)) return log(`${name} already running (pid ${this.daemons.pidOf(name)})`);
    const logFile = this.at(`${name}.log`);
    const waitReady: WaitReady = (what, ready) =>
      this.daemons.waitReady(name, { ready, what, timeoutMs: this.readyTimeoutMs, logs: [logFile] });
    const starters: Record<Component, () => Promise<void>> = {
      redis: () => this.startRedis(state, logFile, waitReady),
      service: () => this.startService(state, logFile, waitReady),
      nginx: () => this.startNginx(state, logFile),
      acme: () => this.startRenewer(state, logFile, waitReady),
    };
    await starters[name]();
  }

  private async startRedis(state: StackState, logFile: string, waitReady: WaitReady): Promise<void> {
    const password = envValue(this.envFile, 'REDIS_PASSWORD');
    if (!password) throw new CliError(`REDIS_PASSWORD is empty in ${this.envFile}`);
    mkdirSync(this.at('redis'), { recursive: true, mode: 0o700 });
    // deploy/redis.conf plus this run's settings. The password lives in this 0600 file, never on
    // the command line, where every local user could read it in ps.
    const conf = `# Rendered by the native stack: deploy/redis.conf + native run-time settings.
include ${join(repoRoot, 'deploy/redis.conf')}
bind 127.0.0.1
port ${state.redisPort}
dir ${this.at('redis')}
pidfile ${this.at('redis/redis-server.pid')}
daemonize no
logfile ""
requirepass ${redisConfString(password)}
`;
    writeFileSync(this.at('redis.conf'), conf, { mode: 0o600 });
    log(`starting redis on 127.0.0.1:${state.redisPort}`);
    await this.daemons.start('redis', [this.at('redis.conf')], { log: logFile });
    const ping = ['-h', '127.0.0.1', '-p', String(state.redisPort), 'ping'];
    const options = { env: { ...process.env, REDISCLI_AUTH: password }, allowFailure: true, timeoutMs: 3000 };
    await waitReady('answer to PING', async () => (await run('redis-cli', ping, options)).stdout.trim() === 'PONG');
  }

  private async startService(state: StackState, logFile: string, waitReady: WaitReady): Promise<void> {
    const env = this.serviceEnv(state);
    log(`starting the service on 127.0.0.1:${state.servicePort}`);
    await this.daemons.start('service', ['dist/server.js'], { env, cwd: repoRoot, log: logFile });
    const healthz = `http://127.0.0.1:${state.servicePort}/healthz`;
    await waitReady('200 from /healthz', async () => (await probe(healthz, { timeoutMs: 2000 })).status === 200);
  }

  /** nginx is ready when the edge answers: waitEdgeReady, after every component started. */
  private async startNginx(state: StackState, logFile: string): Promise<void> {
    makeAcmeWebroot(this.runDir);
    const out = await this.renderNginxConf(state);
    log(`starting nginx: https on 127.0.0.1:${state.httpsPort}, http on 127.0.0.1:${state.httpPort}`);
    // Access lines (stdout) and errors (stderr) in one file, as `docker logs` shows them.
    await this.daemons.start('nginx', nginxArgs(out), { log: logFile });
  }

  /** The renewer: waits until the CA's certificate replaces the placeholder (or says why not). */
  private async startRenewer(state: StackState, logFile: string, waitReady: WaitReady): Promise<void> {
    log(`starting the certificate renewer for ${new URL(state.publicOrigin).hostname}`);
    const env = this.renewerEnv(state);
    await this.daemons.start('acme', ['dist/acme-renewer.js'], { env, cwd: repoRoot, log: logFile });
    try {
      await waitReady('certificate from the CA', async () => readCertificate(state.tlsCert)?.placeholder === false);
      const cert = readCertificate(state.tlsCert)!;
      log(`certificate from ${cert.issuer}, valid until ${new Date(cert.notAfterMs).toISOString()}`);
    } catch (error) {
      // nginx serves the placeholder meanwhile; the renewer keeps trying, backing off.
      if (!this.daemons.isRunning('acme')) throw error;
      log(`${error instanceof Error ? error.message : String(error)}\n  the renewer keeps trying: make logs ARGS=acme`);
    }
  }

  /** Renders nginx/ for this run into RUN_DIR/nginx and checks the result with nginx -t. */
  private async renderNginxConf(state: StackState): Promise<string> {
    const out = this.at('nginx');
    renderNginx(out, nginxVars(state, this.runDir, Boolean(envValue(this.envFile, 'METRICS_TOKEN'))));
    await run('nginx', ['-t', '-q', ...nginxArgs(out)], { stdout: 'ignore' });
    return out;
  }

  /**
   * GET /readyz through nginx, with the local CA verified (your own certificate is the smoke
   * tests' business; the renewer's may still be its placeholder, and is waited for separately).
   */
  private async waitEdgeReady(state: StackState): Promise<void> {
    const url = atPort(`${state.publicOrigin}/readyz`, state.httpsPort);
    const insecure = state.tlsMode === 'acme';
    const client = { connectTo: '127.0.0.1', caFiles: state.caFile ? [state.caFile] : [], insecure };
    await this.daemons.waitReady('nginx', {
      ready: async () => (await probe(url, client)).status === 200,
      what: `200 from https://127.0.0.1:${state.httpsPort}/readyz`,
      timeoutMs: this.readyTimeoutMs,
      logs: [this.at('nginx.log'), this.at('service.log')],
    });
  }

  private async announce(state: StackState): Promise<void> {
    const caNote = `certificate: local CA ${state.caFile} (make certs prints how to trust it in browsers)`;
    await announce({
      shape: 'native',
      origin: state.publicOrigin,
      httpsPort: state.httpsPort,
      envFile: this.envFile,
      caFile: state.caFile,
      usersCommand: (args) => `make users ${args}`,
      notes: [
        `HTTPS on port ${state.httpsPort}, plain HTTP on port ${state.httpPort} redirects to it`,
        'logs: make logs    processes: make ps    stop: make down',
        ...(state.caFile ? [caNote] : []),
      ],
    });
  }
}
