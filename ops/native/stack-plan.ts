import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ACME_CONFIG_KEYS } from '../../service/src/acme/acme-config.ts';
import { certPaths } from '../../testkit/certs.ts';
import { envFileText } from '../../testkit/env-file.ts';
import { nginxGlobals, type NginxTemplateVars } from '../../testkit/nginx.ts';
import { pickPort } from '../../testkit/ports.ts';
import { fromRepo, repoRoot } from '../../testkit/repo.ts';
import { CliError, say } from '../lib/log.ts';
import { redisConfString } from '../lib/secrets.ts';

const log = (message: string) => say('native-stack', message);

/** Ports and TLS files of one run, chosen by `up` and kept while anything runs. */
export interface StackState {
  httpsPort: number;
  httpPort: number;
  servicePort: number;
  redisPort: number;
  tlsCert: string;
  tlsKey: string;
  tlsOcsp: 'on' | 'off';
  /** local: the local CA's certificate; files: TLS_CERT/TLS_KEY of your own; acme: the renewer's. */
  tlsMode: TlsMode;
  /** The local CA that issued tlsCert; absent for a certificate of your own. */
  caFile?: string;
  publicOrigin: string;
  /** TLS_MODE=acme: where the renewer serves its metrics. */
  acmeMetricsPort?: number;
}

const TLS_MODES = ['local', 'files', 'acme'] as const;
type TlsMode = (typeof TLS_MODES)[number];

/** The renewer's directories in a run: the challenge webroot nginx serves, certbot's state, the installed pair. */
export function acmePaths(runDir: string) {
  const dir = join(runDir, 'acme');
  return {
    webroot: join(dir, 'webroot'),
    state: join(dir, 'state'),
    cert: join(dir, 'tls', 'fullchain.pem'),
    key: join(dir, 'tls', 'privkey.pem'),
  };
}

/**
 * Ports (the environment's choice, else the usual port, else a fallback when it is taken) and
 * TLS files by TLS_MODE (environment, then .env): the renewer's (acme), explicit ones (files,
 * the default when TLS_CERT is set), else the local CA's (local).
 */
export async function planStack(
  env: NodeJS.ProcessEnv,
  dotenv: Record<string, string>,
  dirs: { certsDir: string; runDir: string },
): Promise<StackState> {
  const port = async (label: string, explicit: string | undefined, preferred: number, fallback?: number) => {
    const choice = await pickPort(label, { explicit, preferred, fallback });
    if (choice.note) log(choice.note);
    return choice.port;
  };
  const tlsCert = env.TLS_CERT || dotenv.TLS_CERT;
  const tlsKey = env.TLS_KEY || dotenv.TLS_KEY;
  const tlsMode = (env.TLS_MODE || dotenv.TLS_MODE || (tlsCert || tlsKey ? 'files' : 'local')) as TlsMode;
  if (!TLS_MODES.includes(tlsMode)) throw new CliError(`TLS_MODE must be ${TLS_MODES.join(', ')}, got '${tlsMode}'`);
  if (tlsMode === 'acme' && (tlsCert || tlsKey))
    throw new CliError('TLS_MODE=acme obtains the certificate itself: unset TLS_CERT and TLS_KEY');

  const ports: Omit<StackState, 'tlsCert' | 'tlsKey' | 'tlsOcsp' | 'tlsMode' | 'publicOrigin'> = {
    httpsPort: await port('HTTPS', env.HTTPS_PORT, 443, 8443),
    httpPort: await port('HTTP', env.HTTP_PORT, 80, 8080),
    servicePort: await port('service', env.SERVICE_PORT, 3000),
    redisPort: await port('Redis', env.REDIS_PORT, 6379),
    ...(tlsMode === 'acme' ? { acmeMetricsPort: await port('ACME metrics', env.ACME_METRICS_PORT, 9465) } : {}),
  };
  const chosen = Object.values(ports);
  if (new Set(chosen).size !== chosen.length) throw new CliError(`ports must differ: ${chosen.join(' ')}`);

  let tlsOcsp = env.TLS_OCSP || dotenv.TLS_OCSP;
  if (tlsOcsp && tlsOcsp !== 'on' && tlsOcsp !== 'off')
    throw new CliError(`TLS_OCSP must be on or off, got '${tlsOcsp}'`);
  let tls: Pick<StackState, 'tlsCert' | 'tlsKey' | 'caFile'>;
  if (tlsMode === 'acme') {
    const { cert, key } = acmePaths(dirs.runDir);
    tls = { tlsCert: cert, tlsKey: key };
  } else if (tlsMode === 'files') {
    if (!tlsCert || !tlsKey) throw new CliError('TLS_MODE=files needs both TLS_CERT and TLS_KEY');
    tls = { tlsCert: fromRepo(tlsCert), tlsKey: fromRepo(tlsKey) };
    if (!tlsOcsp) {
      // Staple only when the real certificate names an OCSP responder.
      const uri = /OCSP - URI:(\S+)/.exec(new X509Certificate(readFileSync(tls.tlsCert)).infoAccess ?? '')?.[1];
      tlsOcsp = uri ? 'on' : 'off';
      const why = uri ? 'names an OCSP responder (TLS_OCSP=off to disable)' : 'names no OCSP responder';
      log(`OCSP stapling ${tlsOcsp}: ${tls.tlsCert} ${why}`);
    }
  } else {
    const { leafCrt, leafKey, caCrt } = certPaths(dirs.certsDir);
    tls = { tlsCert: leafCrt, tlsKey: leafKey, caFile: caCrt };
  }
  // Off unless asked for: Let's Encrypt ended OCSP in 2025 (short-lived certificates are its answer to
  // revocation), and the local CA has no OCSP responder.
  tlsOcsp ||= 'off';

  // The origin the browser uses. The service rejects POSTs whose Origin differs, so the port
  // is part of it whenever it is not 443.
  const { hostname } = new URL(dotenv.PUBLIC_ORIGIN || 'https://localhost');
  const publicOrigin = `https://${hostname}${ports.httpsPort === 443 ? '' : `:${ports.httpsPort}`}`;
  return { ...ports, ...tls, tlsMode, tlsOcsp: tlsOcsp as 'on' | 'off', publicOrigin };
}

/** deploy/redis.conf plus this run's settings; the password is in this file, never in argv. */
export function redisConf(state: StackState, dataDir: string, password: string): string {
  return [
    '# Rendered by the native stack: deploy/redis.conf + native run-time settings.',
    `include ${join(repoRoot, 'deploy/redis.conf')}`,
    'bind 127.0.0.1',
    `port ${state.redisPort}`,
    `dir ${dataDir}`,
    `pidfile ${join(dataDir, 'redis-server.pid')}`,
    'daemonize no',
    'logfile ""',
    `requirepass ${redisConfString(password)}`,
    '',
  ].join('\n');
}

/** How the smoke tests reach this stack (docs/edge.md, SMOKE_STACK_FILE). */
export function smokeEnv(state: StackState, envFile: string, runDir: string): string {
  const host = new URL(state.publicOrigin).hostname;
  const acme: Record<string, string> =
    state.tlsMode === 'acme'
      ? {
          SMOKE_ACME_METRICS_CMD: `curl -fsS http://127.0.0.1:${state.acmeMetricsPort}/metrics`,
          SMOKE_ACME_RENEW_CMD: `kill -USR2 "$(cat '${join(runDir, 'acme.pid')}')"`,
          SMOKE_RESTART_CMD: `STACK=native RUN_DIR='${runDir}' ENV_FILE='${envFile}' '${process.execPath}' '${join(repoRoot, 'ops/cli.ts')}' restart`,
        }
      : {};
  return envFileText('Written by the native stack (make up): how the smoke tests reach this stack.', {
    BASE_URL: state.publicOrigin,
    SMOKE_HTTP_URL: `http://${host}${state.httpPort === 80 ? '' : `:${state.httpPort}`}`,
    SMOKE_ENV_FILE: envFile,
    SMOKE_CA_FILE: state.caFile ?? '',
    SMOKE_SERVICE_LOG_CMD: `cat '${join(runDir, 'service.log')}'`,
    ...acme,
  });
}

/** The project's nginx templates' variables for this run (testkit/nginx.ts renders them). */
export function nginxVars(state: StackState, runDir: string, metricsAtEdge: boolean): NginxTemplateVars {
  return {
    UPSTREAM_ADDR: `127.0.0.1:${state.servicePort}`,
    UPSTREAM_MODE: 'static',
    UPSTREAM_RESOLVER: '127.0.0.1',
    NGINX_HTTP_LISTEN: `127.0.0.1:${state.httpPort}`,
    NGINX_HTTPS_LISTEN: `127.0.0.1:${state.httpsPort}`,
    PUBLIC_ORIGIN: state.publicOrigin,
    TLS_CERT: state.tlsCert,
    TLS_KEY: state.tlsKey,
    TLS_OCSP: state.tlsOcsp,
    ACME_WEBROOT: acmePaths(runDir).webroot,
    METRICS_AT_EDGE: metricsAtEdge ? 'on' : 'off',
  };
}

/** nginx's command line for the configuration rendered into `out` (add -t to test it). */
export function nginxArgs(out: string): string[] {
  return ['-p', `${out}/`, '-c', join(out, 'nginx.conf'), '-g', nginxGlobals(out)];
}

/** The renewer's environment (TLS_MODE=acme): .env's ACME settings and this run's paths and ports. */
export function renewerEnv(state: StackState, dotenv: Record<string, string>, runDir: string): NodeJS.ProcessEnv {
  const paths = acmePaths(runDir);
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
    ACME_NGINX_PIDFILE: join(runDir, 'nginx', 'nginx.pid'),
  };
}

/**
 * The challenge webroot, readable by nginx's unprivileged workers down from the run directory
 * (certbot's state and the installed key beside it stay 0700 to their owner).
 */
export function makeAcmeWebroot(runDir: string): void {
  const { webroot } = acmePaths(runDir);
  mkdirSync(join(webroot, '.well-known/acme-challenge'), { recursive: true, mode: 0o755 });
  for (const dir of [dirname(webroot), webroot]) chmodSync(dir, 0o755);
}
