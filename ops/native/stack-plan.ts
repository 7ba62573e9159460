import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NginxTemplateVars } from '../../testkit/nginx.ts';
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
  /** The local CA that issued tlsCert; absent for a certificate of your own. */
  caFile?: string;
  publicOrigin: string;
}

/**
 * Ports (the environment's choice, else the usual port, else a fallback when it is taken) and
 * TLS files: explicit ones (environment, then .env) for real certificates, else the local CA's.
 */
export async function planStack(
  env: NodeJS.ProcessEnv,
  dotenv: Record<string, string>,
  certsDir: string,
): Promise<StackState> {
  const chosen = [
    await pickPort('HTTPS', { explicit: env.HTTPS_PORT, preferred: 443, fallback: 8443 }),
    await pickPort('HTTP', { explicit: env.HTTP_PORT, preferred: 80, fallback: 8080 }),
    await pickPort('service', { explicit: env.SERVICE_PORT, preferred: 3000 }),
    await pickPort('Redis', { explicit: env.REDIS_PORT, preferred: 6379 }),
  ];
  for (const choice of chosen) if (choice.note) log(choice.note);
  const [httpsPort, httpPort, servicePort, redisPort] = chosen.map((c) => c.port) as [number, number, number, number];
  if (new Set([httpsPort, httpPort, servicePort, redisPort]).size !== 4)
    throw new CliError(`ports must differ: ${[httpsPort, httpPort, servicePort, redisPort].join(' ')}`);

  const tlsCert = env.TLS_CERT || dotenv.TLS_CERT;
  const tlsKey = env.TLS_KEY || dotenv.TLS_KEY;
  let tlsOcsp = env.TLS_OCSP || dotenv.TLS_OCSP;
  if (tlsOcsp && tlsOcsp !== 'on' && tlsOcsp !== 'off')
    throw new CliError(`TLS_OCSP must be on or off, got '${tlsOcsp}'`);
  let tls: Pick<StackState, 'tlsCert' | 'tlsKey' | 'caFile'>;
  if (tlsCert || tlsKey) {
    if (!tlsCert || !tlsKey) throw new CliError('set both TLS_CERT and TLS_KEY, or neither');
    tls = { tlsCert: fromRepo(tlsCert), tlsKey: fromRepo(tlsKey) };
    if (!tlsOcsp) {
      // Staple only when the real certificate names an OCSP responder.
      const uri = /OCSP - URI:(\S+)/.exec(new X509Certificate(readFileSync(tls.tlsCert)).infoAccess ?? '')?.[1];
      tlsOcsp = uri ? 'on' : 'off';
      log(
        `OCSP stapling ${tlsOcsp}: ${tls.tlsCert} ${uri ? 'names an OCSP responder (TLS_OCSP=off to disable)' : 'names no OCSP responder'}`,
      );
    }
  } else {
    tls = {
      tlsCert: join(certsDir, 'localhost.crt'),
      tlsKey: join(certsDir, 'localhost.key'),
      caFile: join(certsDir, 'ca.crt'),
    };
    // The local CA has no OCSP responder.
    tlsOcsp ||= 'off';
  }

  // The origin the browser uses. The service rejects POSTs whose Origin differs, so the port
  // is part of it whenever it is not 443.
  const configured = new URL(dotenv.PUBLIC_ORIGIN || 'https://localhost');
  const publicOrigin = `https://${configured.hostname}${httpsPort === 443 ? '' : `:${httpsPort}`}`;
  return { httpsPort, httpPort, servicePort, redisPort, ...tls, tlsOcsp: tlsOcsp as 'on' | 'off', publicOrigin };
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
export function smokeEnv(state: StackState, envFile: string, serviceLog: string): string {
  const host = new URL(state.publicOrigin).hostname;
  return [
    '# Written by the native stack (make up): how the smoke tests reach this stack.',
    `BASE_URL=${state.publicOrigin}`,
    `SMOKE_HTTP_URL=http://${host}${state.httpPort === 80 ? '' : `:${state.httpPort}`}`,
    `SMOKE_ENV_FILE=${envFile}`,
    `SMOKE_CA_FILE=${state.caFile ?? ''}`,
    `SMOKE_SERVICE_LOG_CMD=cat '${serviceLog}'`,
    '',
  ].join('\n');
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
    ACME_WEBROOT: join(runDir, 'acme'),
    METRICS_AT_EDGE: metricsAtEdge ? 'on' : 'off',
  };
}
