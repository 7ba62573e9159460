import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ensureLocalCertificates } from '../../testkit/certs.ts';
import { generateEnvFile } from '../env-gen.ts';
import { readEnvFile } from '../../testkit/env-file.ts';
import { announce } from '../lib/access.ts';
import { CliError, say } from '../lib/log.ts';
import { atPort, probe } from '../../testkit/http.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { run } from '../lib/run.ts';
import { writeSecretFiles } from '../lib/secrets.ts';
import { SECRET_FILES, assertValidServiceConfig, serviceEnvFrom, type SecretKey } from '../lib/service-env.ts';
import { ensureTools } from '../lib/tools.ts';
import { nginxGlobals, renderNginx } from '../../testkit/nginx.ts';
import { buildIfStale } from '../lib/build.ts';
import { Daemons } from './daemons.ts';
import { nginxVars, planStack, redisConf, smokeEnv, type StackState } from './stack-plan.ts';

const log = (message: string) => say('native-stack', message);

/** Settings the native stack decides for the service; .env values for them are not used. */
const STACK_OWNED = ['HOST', 'PORT', 'REDIS_URL', 'TRUST_PROXY', 'COOKIE_SECURE'] as const;
const COMPONENTS = ['redis', 'service', 'nginx'] as const;
type Component = (typeof COMPONENTS)[number];

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
    this.daemons = new Daemons(this.runDir, { nginx: 'nginx', service: process.execPath, redis: 'redis-server' });
    // Redis writes its AOF/RDB on TERM; give it time before KILL.
    this.stopTimeoutMs = Number(this.env.STOP_TIMEOUT ?? 15) * 1000;
    this.readyTimeoutMs = Number(this.env.READY_TIMEOUT ?? 60) * 1000;
  }

  private get stateFile() {
    return join(this.runDir, 'stack.json');
  }

  private get isDefaultRunDir() {
    return this.runDir === fromRepo('.run/native');
  }

  private loadState(): StackState | undefined {
    return existsSync(this.stateFile) ? (JSON.parse(readFileSync(this.stateFile, 'utf8')) as StackState) : undefined;
  }

  private requireState(): StackState {
    const state = this.loadState();
    if (!state) throw new CliError(`no stack in ${this.runDir}; start it with: make up`);
    return state;
  }

  private anyRunning(): boolean {
    return COMPONENTS.some((name) => this.daemons.isRunning(name));
  }

  // --- commands ------------------------------------------------------------------------------

  async up(): Promise<void> {
    if (COMPONENTS.every((name) => this.daemons.isRunning(name)) && this.loadState()) {
      log(`already running in ${this.runDir}`);
      await this.announce(this.requireState());
      return;
    }
    await ensureTools('redis-server', 'redis-cli', 'nginx', 'mkcert');
    await buildIfStale();
    generateEnvFile(this.envFile);
    const state = await this.plan();
    if (state.caFile) ensureLocalCertificates(this.certsDir, { quiet: true });
    for (const file of [state.tlsCert, state.tlsKey])
      if (!existsSync(file)) throw new CliError(`TLS_CERT/TLS_KEY not readable: ${file}`);
    // Fail before starting anything when the service would refuse the configuration.
    const { env } = this.serviceEnv(state);
    assertValidServiceConfig(env, this.envFile);
    await this.startRedis(state);
    await this.startService(state);
    await this.startNginx(state);
    await this.waitEdgeReady(state);
    this.writeSmokeFile(state);
    await this.announce(state);
  }

  async down(): Promise<void> {
    let any = false;
    // nginx first (QUIT lets workers finish in-flight requests), Redis last.
    for (const name of ['nginx', 'service', 'redis'] as const) {
      if (
        await this.daemons.stop(name, {
          signal: name === 'nginx' ? 'SIGQUIT' : 'SIGTERM',
          timeoutMs: this.stopTimeoutMs,
        })
      ) {
        log(`stopped ${name}`);
        any = true;
      }
    }
    if (!any) log(`nothing running in ${this.runDir}`);
    // .run/smoke.env only when it still describes this stack (the Docker stack writes it too).
    const mine = join(this.runDir, 'smoke.env');
    const shared = fromRepo('.run/smoke.env');
    if (existsSync(mine) && existsSync(shared) && readFileSync(mine, 'utf8') === readFileSync(shared, 'utf8'))
      rmSync(shared);
    rmSync(mine, { force: true });
  }

  ps(): void {
    const state = this.loadState();
    const rows = [['NAME', 'STATE', 'PID', 'ADDRESS']];
    const address: Record<Component, string> = {
      redis: `127.0.0.1:${state?.redisPort ?? '?'}`,
      service: `127.0.0.1:${state?.servicePort ?? '?'}`,
      nginx: `${state?.publicOrigin ?? '?'} (http ${state?.httpPort ?? '?'})`,
    };
    for (const name of COMPONENTS) {
      const pid = this.daemons.pidOf(name);
      rows.push([name, pid ? 'running' : 'stopped', pid ? String(pid) : '-', address[name]]);
    }
    process.stdout.write(
      rows.map((r) => `${r[0]!.padEnd(8)} ${r[1]!.padEnd(8)} ${r[2]!.padEnd(8)} ${r[3]}`).join('\n') + '\n',
    );
  }

  /** Log files of the named components (all when none is named). */
  logFiles(components: string[]): string[] {
    const files: Record<string, string[]> = {
      redis: [join(this.runDir, 'redis.log')],
      service: [join(this.runDir, 'service.log')],
      nginx: [join(this.runDir, 'nginx.log')],
    };
    for (const name of components)
      if (!(name in files)) throw new CliError(`logs: unknown component '${name}' (service, nginx, redis)`);
    const chosen = (components.length > 0 ? components : ['redis', 'service', 'nginx']).flatMap((name) => files[name]!);
    if (!chosen.some((file) => existsSync(file)))
      throw new CliError(`no logs in ${this.runDir} yet; start the stack with: make up`);
    return chosen;
  }

  async restart(component = 'all'): Promise<void> {
    const state = this.requireState();
    switch (component) {
      case 'all':
        await this.down();
        await new NativeStack({
          runDir: this.runDir,
          envFile: this.envFile,
          certsDir: this.certsDir,
          env: {
            ...this.env,
            HTTPS_PORT: String(state.httpsPort),
            HTTP_PORT: String(state.httpPort),
            SERVICE_PORT: String(state.servicePort),
            REDIS_PORT: String(state.redisPort),
          },
        }).up();
        return;
      case 'service':
        await buildIfStale();
        await this.daemons.stop('service', { timeoutMs: this.stopTimeoutMs });
        await this.startService(state);
        await this.waitEdgeReady(state);
        return;
      case 'redis':
        await this.daemons.stop('redis', { timeoutMs: this.stopTimeoutMs });
        await this.startRedis(state);
        return;
      case 'nginx':
        if (this.daemons.isRunning('nginx')) {
          // Re-render from nginx/ and reload gracefully (HUP): new workers, no dropped requests.
          const out = join(this.runDir, 'nginx');
          renderNginx(out, nginxVars(state, this.runDir, Boolean(this.secretValues().METRICS_TOKEN)));
          await this.nginxTest(out);
          this.daemons.signal('nginx', 'SIGHUP');
          log('nginx reloaded');
        } else {
          await this.startNginx(state);
        }
        await this.waitEdgeReady(state);
        return;
      default:
        throw new CliError(`restart: unknown component '${component}' (service, nginx, redis, or nothing for all)`);
    }
  }

  /** The operator CLI against this stack's Redis, with the service's environment. */
  async users(args: string[]): Promise<number> {
    const state = this.requireState();
    if (!this.daemons.isRunning('redis')) throw new CliError('redis is not running; start the stack with: make up');
    await buildIfStale();
    const { env } = this.serviceEnv(state);
    const result = await run(process.execPath, [join(repoRoot, 'dist/cli/users.js'), ...args], {
      env,
      cwd: repoRoot,
      stdio: 'inherit',
      allowFailure: true,
    });
    return result.code;
  }

  /** Where Redis listens and its password, for backups. */
  redisEndpoint(): { port: number; password: string } {
    const state = this.requireState();
    if (!this.daemons.isRunning('redis')) throw new CliError('redis is not running; start the stack with: make up');
    return { port: state.redisPort, password: this.secretValues().REDIS_PASSWORD ?? '' };
  }

  isServiceRunning(): boolean {
    return this.daemons.isRunning('service');
  }

  // --- planning ------------------------------------------------------------------------------

  /** Chooses ports and TLS files. While any component runs, the recorded values stand. */
  private async plan(): Promise<StackState> {
    const recorded = this.loadState();
    if (recorded && this.anyRunning()) return recorded;
    const state = await planStack(this.env, readEnvFile(this.envFile), this.certsDir);
    mkdirSync(this.runDir, { recursive: true });
    writeFileSync(this.stateFile, `${JSON.stringify(state, null, 2)}\n`);
    return state;
  }

  // --- components ----------------------------------------------------------------------------

  private secretValues(): Partial<Record<SecretKey, string>> {
    return serviceEnvFrom(readEnvFile(this.envFile), STACK_OWNED).secrets;
  }

  /** The service's environment: .env's settings, this stack's values, secrets as files. */
  private serviceEnv(state: StackState): { env: NodeJS.ProcessEnv } {
    const { settings, secrets, overridden } = serviceEnvFrom(readEnvFile(this.envFile), STACK_OWNED);
    for (const key of overridden) log(`${key} in ${this.envFile} is not used: the native stack sets it`);
    const secretsDir = join(this.runDir, 'secrets');
    writeSecretFiles(
      secretsDir,
      Object.fromEntries(Object.entries(secrets).map(([key, value]) => [SECRET_FILES[key as SecretKey], value])),
    );
    const secretFileEnv = Object.fromEntries(
      Object.keys(secrets).map((key) => [`${key}_FILE`, join(secretsDir, SECRET_FILES[key as SecretKey])]),
    );
    return {
      env: {
        // Nothing from the caller's shell leaks in by accident: only what is listed here.
        PATH: process.env.PATH,
        HOME: process.env.HOME ?? '/',
        NODE_ENV: 'production',
        ...settings,
        HOST: '127.0.0.1',
        PORT: String(state.servicePort),
        REDIS_URL: `redis://127.0.0.1:${state.redisPort}`,
        PUBLIC_ORIGIN: state.publicOrigin,
        // Only nginx on this machine may say who the client is (X-Forwarded-For).
        TRUST_PROXY: 'loopback',
        COOKIE_SECURE: 'true',
        ...secretFileEnv,
      },
    };
  }

  private async redisPing(state: StackState): Promise<boolean> {
    const result = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(state.redisPort), 'ping'], {
      env: { ...process.env, REDISCLI_AUTH: this.secretValues().REDIS_PASSWORD ?? '' },
      allowFailure: true,
      timeoutMs: 3000,
    });
    return result.stdout.trim() === 'PONG';
  }

  private async startRedis(state: StackState): Promise<void> {
    if (this.daemons.isRunning('redis')) return log(`redis already running (pid ${this.daemons.pidOf('redis')})`);
    const password = this.secretValues().REDIS_PASSWORD;
    if (!password) throw new CliError(`REDIS_PASSWORD is empty in ${this.envFile}`);
    const dataDir = join(this.runDir, 'redis');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // The project's redis.conf plus this run's settings. The password lives in this 0600 file,
    // never on the command line, where every local user could read it in ps.
    const conf = join(this.runDir, 'redis.conf');
    writeFileSync(conf, redisConf(state, dataDir, password), { mode: 0o600 });
    log(`starting redis on 127.0.0.1:${state.redisPort}`);
    const logFile = join(this.runDir, 'redis.log');
    await this.daemons.start('redis', [conf], { env: process.env, log: logFile });
    await this.daemons.waitReady('redis', {
      ready: () => this.redisPing(state),
      what: 'answer to PING',
      timeoutMs: this.readyTimeoutMs,
      logs: [logFile],
    });
  }

  private async startService(state: StackState): Promise<void> {
    if (this.daemons.isRunning('service')) return log(`service already running (pid ${this.daemons.pidOf('service')})`);
    const { env } = this.serviceEnv(state);
    log(`starting the service on 127.0.0.1:${state.servicePort}`);
    const logFile = join(this.runDir, 'service.log');
    await this.daemons.start('service', ['dist/server.js'], { env, cwd: repoRoot, log: logFile });
    await this.daemons.waitReady('service', {
      ready: async () =>
        (await probe(`http://127.0.0.1:${state.servicePort}/healthz`, { timeoutMs: 2000 })).status === 200,
      what: '200 from /healthz',
      timeoutMs: this.readyTimeoutMs,
      logs: [logFile],
    });
  }

  private async nginxTest(out: string): Promise<void> {
    await run('nginx', ['-t', '-q', '-p', `${out}/`, '-c', join(out, 'nginx.conf'), '-g', nginxGlobals(out)], {
      ignoreStdout: true,
    });
  }

  private async startNginx(state: StackState): Promise<void> {
    if (this.daemons.isRunning('nginx')) return log(`nginx already running (pid ${this.daemons.pidOf('nginx')})`);
    const out = join(this.runDir, 'nginx');
    mkdirSync(join(this.runDir, 'acme', '.well-known', 'acme-challenge'), { recursive: true });
    renderNginx(out, nginxVars(state, this.runDir, Boolean(this.secretValues().METRICS_TOKEN)));
    await this.nginxTest(out);
    log(`starting nginx: https on 127.0.0.1:${state.httpsPort}, http on 127.0.0.1:${state.httpPort}`);
    // Access lines (stdout) and errors (stderr) in one file, as `docker logs` shows them.
    await this.daemons.start('nginx', ['-p', `${out}/`, '-c', join(out, 'nginx.conf'), '-g', nginxGlobals(out)], {
      env: process.env,
      log: join(this.runDir, 'nginx.log'),
    });
  }

  /** GET /readyz through nginx, with the local CA verified (your own certificate is the smoke tests' business). */
  private async waitEdgeReady(state: StackState): Promise<void> {
    await this.daemons.waitReady('nginx', {
      ready: async () => {
        const url = atPort(`${state.publicOrigin}/readyz`, state.httpsPort);
        return (
          (await probe(url, { connectTo: '127.0.0.1', caFiles: state.caFile ? [state.caFile] : [] })).status === 200
        );
      },
      what: `200 from https://127.0.0.1:${state.httpsPort}/readyz`,
      timeoutMs: this.readyTimeoutMs,
      logs: [join(this.runDir, 'nginx.log'), join(this.runDir, 'service.log')],
    });
  }

  /** How the smoke tests reach this stack (docs/edge.md, SMOKE_STACK_FILE). */
  private writeSmokeFile(state: StackState): void {
    const file = join(this.runDir, 'smoke.env');
    writeFileSync(file, smokeEnv(state, this.envFile, join(this.runDir, 'service.log')));
    // `make smoke` finds the stack `make up` started here.
    if (this.isDefaultRunDir) copyFileSync(file, fromRepo('.run/smoke.env'));
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
