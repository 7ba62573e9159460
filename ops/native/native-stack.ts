import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalCertificates } from '../../testkit/certs.ts';
import { envValue, readEnvFile } from '../../testkit/env-file.ts';
import { atPort, probe } from '../../testkit/http.ts';
import { renderNginx } from '../../testkit/nginx.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { generateEnvFile } from '../env-gen.ts';
import { announce } from '../lib/access.ts';
import { buildIfStale } from '../lib/build.ts';
import { CliError, say } from '../lib/log.ts';
import { run } from '../../testkit/run.ts';
import { writeSecretFiles } from '../lib/secrets.ts';
import {
  DEFAULT_ACCESS_RULES,
  SECRET_FILES,
  assertValidServiceConfig,
  serviceEnvFrom,
  type SecretKey,
} from '../lib/service-env.ts';
import { ensureTools } from '../lib/tools.ts';
import { Daemons } from './daemons.ts';
import { readCertificate } from '../../service/src/acme/certificate-files.ts';
import {
  nginxArgs,
  nginxVars,
  planStack,
  redisConf,
  makeAcmeWebroot,
  renewerEnv,
  smokeEnv,
  type StackState,
} from './stack-plan.ts';

const log = (message: string) => say('native-stack', message);

/** Settings the native stack decides for the service; .env values for them are not used. */
const STACK_OWNED = ['HOST', 'PORT', 'REDIS_URL', 'TRUST_PROXY', 'COOKIE_SECURE'] as const;
/** Every process the native stack may run; `acme` (the certificate renewer) only with TLS_MODE=acme. */
const COMPONENTS = ['redis', 'service', 'nginx', 'acme'] as const;
type Component = (typeof COMPONENTS)[number];
const componentsOf = (state: StackState | undefined): Component[] =>
  COMPONENTS.filter((name) => name !== 'acme' || state?.tlsMode === 'acme');

export interface NativeStackOptions {
  runDir?: string;
  envFile?: string;
  certsDir?: string;
  /** Environment the port and TLS choices come from (HTTPS_PORT, TLS_CERT, ...). */
  env?: NodeJS.ProcessEnv;
}

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

  constructor(options: NativeStackOptions = {}) {
    this.env = options.env ?? process.env;
    this.runDir = fromRepo(options.runDir ?? this.env.RUN_DIR ?? '.run/native');
    this.envFile = fromRepo(options.envFile ?? this.env.ENV_FILE ?? '.env');
    this.certsDir = fromRepo(options.certsDir ?? this.env.CERTS_DIR ?? 'certs');
    this.daemons = new Daemons(this.runDir, {
      nginx: 'nginx',
      service: process.execPath,
      redis: 'redis-server',
      acme: process.execPath,
    });
    // Redis writes its AOF/RDB on TERM; give it time before KILL.
    this.stopTimeoutMs = Number(this.env.STOP_TIMEOUT ?? 15) * 1000;
    this.readyTimeoutMs = Number(this.env.READY_TIMEOUT ?? 60) * 1000;
  }

  /** A file or directory of this run. */
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
    const running = this.loadState();
    if (running && componentsOf(running).every((name) => this.daemons.isRunning(name))) {
      log(`already running in ${this.runDir}`);
      return this.announce(running);
    }
    await ensureTools('redis-server', 'redis-cli', 'nginx', 'mkcert');
    await buildIfStale();
    generateEnvFile(this.envFile);
    const state = await this.plan();
    if (state.tlsMode === 'acme') {
      await ensureTools('certbot', 'openssl');
      makeAcmeWebroot(this.runDir);
      // The renewer's settings are checked, and a certificate put in place, before nginx starts.
      await run(process.execPath, ['dist/acme-renewer.js', 'prepare'], {
        env: renewerEnv(state, readEnvFile(this.envFile), this.runDir),
        cwd: repoRoot,
      });
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
    writeFileSync(this.at('smoke.env'), smokeEnv(state, this.envFile, this.runDir));
    if (this.runDir === fromRepo('.run/native')) copyFileSync(this.at('smoke.env'), fromRepo('.run/smoke.env'));
    await this.announce(state);
  }

  async down(): Promise<void> {
    let stopped = 0;
    // nginx first (QUIT lets workers finish in-flight requests), Redis last.
    for (const name of ['acme', 'nginx', 'service', 'redis'] as const) {
      const signal = name === 'nginx' ? 'SIGQUIT' : 'SIGTERM';
      if (!(await this.daemons.stop(name, { signal, timeoutMs: this.stopTimeoutMs }))) continue;
      log(`stopped ${name}`);
      stopped += 1;
    }
    if (stopped === 0) log(`nothing running in ${this.runDir}`);
    // .run/smoke.env only when it still describes this stack (the Docker stack writes it too).
    const mine = this.at('smoke.env');
    const shared = fromRepo('.run/smoke.env');
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
    const rows = componentsOf(state).map((name) => {
      const pid = this.daemons.pidOf(name);
      return [name, pid ? 'running' : 'stopped', String(pid ?? '-'), address[name]];
    });
    for (const [name, running, pid, at] of [['NAME', 'STATE', 'PID', 'ADDRESS'], ...rows])
      process.stdout.write(`${name!.padEnd(8)} ${running!.padEnd(8)} ${pid!.padEnd(8)} ${at}\n`);
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

  /** Chooses ports and TLS files. While any component runs, the recorded values stand. */
  private async plan(): Promise<StackState> {
    const recorded = this.loadState();
    if (recorded && COMPONENTS.some((name) => this.daemons.isRunning(name))) return recorded;
    const state = await planStack(this.env, readEnvFile(this.envFile), {
      certsDir: this.certsDir,
      runDir: this.runDir,
    });
    writeFileSync(this.at('stack.json'), `${JSON.stringify(state, null, 2)}\n`);
    return state;
  }

  /** The service's environment: .env's settings, this stack's values, secrets as files. */
  private serviceEnv(state: StackState): NodeJS.ProcessEnv {
    const { settings, secrets, overridden } = serviceEnvFrom(readEnvFile(this.envFile), STACK_OWNED);
    for (const key of overridden) log(`${key} in ${this.envFile} is not used: the native stack sets it`);
    const files = Object.entries(secrets).map(([key, value]) => ({ key, value, file: SECRET_FILES[key as SecretKey] }));
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

  /** Starts a component unless it runs already. */
  private async start(name: Component, state: StackState): Promise<void> {
    if (this.daemons.isRunning(name)) return log(`${name} already running (pid ${this.daemons.pidOf(name)})`);
    if (name === 'redis') await this.startRedis(state);
    else if (name === 'service') await this.startService(state);
    else if (name === 'nginx') await this.startNginx(state);
    else await this.startRenewer(state);
  }

  /** Waits until `ready` says so while `name` runs; when it does not, the logs say why. */
  private waitReady(name: Component, what: string, ready: () => Promise<boolean>, logs = [this.at(`${name}.log`)]) {
    return this.daemons.waitReady(name, { ready, what, timeoutMs: this.readyTimeoutMs, logs });
  }

  private async startRedis(state: StackState): Promise<void> {
    const password = envValue(this.envFile, 'REDIS_PASSWORD');
    if (!password) throw new CliError(`REDIS_PASSWORD is empty in ${this.envFile}`);
    const dataDir = this.at('redis');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // The password lives in this 0600 file, never on the command line, where every local user
    // could read it in ps.
    writeFileSync(this.at('redis.conf'), redisConf(state, dataDir, password), { mode: 0o600 });
    log(`starting redis on 127.0.0.1:${state.redisPort}`);
    await this.daemons.start('redis', [this.at('redis.conf')], { log: this.at('redis.log') });
    const ping = ['-h', '127.0.0.1', '-p', String(state.redisPort), 'ping'];
    const options = { env: { ...process.env, REDISCLI_AUTH: password }, allowFailure: true, timeoutMs: 3000 };
    const pong = async () => (await run('redis-cli', ping, options)).stdout.trim() === 'PONG';
    await this.waitReady('redis', 'answer to PING', pong);
  }

  private async startService(state: StackState): Promise<void> {
    const env = this.serviceEnv(state);
    log(`starting the service on 127.0.0.1:${state.servicePort}`);
    await this.daemons.start('service', ['dist/server.js'], { env, cwd: repoRoot, log: this.at('service.log') });
    const healthz = `http://127.0.0.1:${state.servicePort}/healthz`;
    const healthy = async () => (await probe(healthz, { timeoutMs: 2000 })).status === 200;
    await this.waitReady('service', '200 from /healthz', healthy);
  }

  /** Renders nginx/ for this run into RUN_DIR/nginx and checks the result with nginx -t. */
  private async renderNginxConf(state: StackState): Promise<string> {
    const out = this.at('nginx');
    renderNginx(out, nginxVars(state, this.runDir, Boolean(envValue(this.envFile, 'METRICS_TOKEN'))));
    await run('nginx', ['-t', '-q', ...nginxArgs(out)], { stdout: 'ignore' });
    return out;
  }

  private async startNginx(state: StackState): Promise<void> {
    makeAcmeWebroot(this.runDir);
    const out = await this.renderNginxConf(state);
    log(`starting nginx: https on 127.0.0.1:${state.httpsPort}, http on 127.0.0.1:${state.httpPort}`);
    // Access lines (stdout) and errors (stderr) in one file, as `docker logs` shows them.
    await this.daemons.start('nginx', nginxArgs(out), { log: this.at('nginx.log') });
  }

  /**
   * GET /readyz through nginx, with the local CA verified (your own certificate is the smoke
   * tests' business; the renewer's may still be its placeholder, and is waited for separately).
   */
  private async waitEdgeReady(state: StackState): Promise<void> {
    const url = atPort(`${state.publicOrigin}/readyz`, state.httpsPort);
    const insecure = state.tlsMode === 'acme';
    const client = { connectTo: '127.0.0.1', caFiles: state.caFile ? [state.caFile] : [], insecure };
    const what = `200 from https://127.0.0.1:${state.httpsPort}/readyz`;
    const logs = [this.at('nginx.log'), this.at('service.log')];
    await this.waitReady('nginx', what, async () => (await probe(url, client)).status === 200, logs);
  }

  /** Starts the renewer and waits until the CA's certificate replaces the placeholder (or says why not). */
  private async startRenewer(state: StackState): Promise<void> {
    log(`starting the certificate renewer for ${new URL(state.publicOrigin).hostname}`);
    const env = renewerEnv(state, readEnvFile(this.envFile), this.runDir);
    await this.daemons.start('acme', ['dist/acme-renewer.js'], { env, cwd: repoRoot, log: this.at('acme.log') });
    try {
      const issued = async () => readCertificate(state.tlsCert)?.placeholder === false;
      await this.waitReady('acme', 'certificate from the CA', issued);
      const cert = readCertificate(state.tlsCert)!;
      log(`certificate from ${cert.issuer}, valid until ${new Date(cert.notAfterMs).toISOString()}`);
    } catch (error) {
      // nginx serves the placeholder meanwhile; the renewer keeps trying, backing off.
      if (!this.daemons.isRunning('acme')) throw error;
      log(`${error instanceof Error ? error.message : String(error)}\n  the renewer keeps trying: make logs ARGS=acme`);
    }
  }

  private async announce(state: StackState): Promise<void> {
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
        ...(state.caFile
          ? [`certificate: local CA ${state.caFile} (make certs prints how to trust it in browsers)`]
          : []),
      ],
    });
  }
}
