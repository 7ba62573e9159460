import { X509Certificate } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { certPaths } from '../../testkit/certs.ts';
import { nginxGlobals, type NginxTemplateVars } from '../../testkit/nginx.ts';
import { pickPort } from '../../testkit/ports.ts';
import { fromRepo } from '../../testkit/repo.ts';
import { CliError, say } from '../lib/log.ts';

const log = (message: string) => say('native-stack', message);

const TLS_MODES = ['local', 'files', 'acme'] as const;

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
  tlsMode: (typeof TLS_MODES)[number];
  /** The local CA that issued tlsCert; absent for a certificate of your own. */
  caFile?: string;
  publicOrigin: string;
  /** TLS_MODE=acme: where the renewer serves its metrics. */
  acmeMetricsPort?: number;
}

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
  const tlsMode = (env.TLS_MODE || dotenv.TLS_MODE || (tlsCert || tlsKey ? 'files' : 'local')) as StackState['tlsMode'];
  if (!TLS_MODES.includes(tlsMode)) throw new CliError(`TLS_MODE must be ${TLS_MODES.join(', ')}, got '${tlsMode}'`);
  if (tlsMode === 'acme' && (tlsCert || tlsKey))
    throw new CliError('TLS_MODE=acme obtains the certificate itself: unset TLS_CERT and TLS_KEY');

  const ports = {
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
export const nginxArgs = (out: string) => ['-p', `${out}/`, '-c', join(out, 'nginx.conf'), '-g', nginxGlobals(out)];

/**
 * The challenge webroot, readable by nginx's unprivileged workers down from the run directory
 * (certbot's state and the installed key beside it stay 0700 to their owner).
 */
export function makeAcmeWebroot(runDir: string): void {
  const { webroot } = acmePaths(runDir);
  mkdirSync(join(webroot, '.well-known/acme-challenge'), { recursive: true, mode: 0o755 });
  for (const dir of [dirname(webroot), webroot]) chmodSync(dir, 0o755);
}
