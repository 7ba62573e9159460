import { z } from 'zod';
import { ConfigError } from '../config/config.ts';
import { duration, integer } from '../config/setting-types.ts';

/** Let's Encrypt's production directory; staging is https://acme-staging-v02.api.letsencrypt.org/directory. */
export const LETS_ENCRYPT = 'https://acme-v02.api.letsencrypt.org/directory';

/**
 * The certificate renewer's settings (acme-renewer.ts), validated like the service's: an
 * invalid value stops the process with a message naming the key. The name to certify is
 * PUBLIC_ORIGIN's host, the one fact the service is configured with too.
 */
const settings = {
  PUBLIC_ORIGIN: z.url({ protocol: /^https$/, message: 'expected https://host[:port]' }),
  ACME_EMAIL: z.email().optional(),
  ACME_DIRECTORY: z.url({ protocol: /^https$/ }).default(LETS_ENCRYPT),
  /** CA file for TLS to the ACME server (a private or test CA); the system roots otherwise. */
  ACME_CA_BUNDLE: z.string().optional(),
  /** certbot's account key, certificates and logs: kept across restarts, mode 0700. */
  ACME_STATE_DIR: z.string().min(1),
  /** Served by nginx at /.well-known/acme-challenge/ on port 80 (HTTP-01). */
  ACME_WEBROOT: z.string().min(1),
  /** Where nginx reads the certificate (full chain) and its key. */
  TLS_CERT: z.string().min(1),
  TLS_KEY: z.string().min(1),
  ACME_CHECK_INTERVAL: duration('12h'),
  /** First retry after a failure; it doubles up to ACME_CHECK_INTERVAL. */
  ACME_RETRY_AFTER: duration('1m'),
  ACME_METRICS_HOST: z.string().default('127.0.0.1'),
  ACME_METRICS_PORT: integer(9465, 1, 65535),
  /** nginx's pid file: the renewer sends it HUP after installing a certificate (native stack). */
  ACME_NGINX_PIDFILE: z.string().optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

export const ACME_CONFIG_KEYS = Object.keys(settings) as Array<keyof typeof settings>;

export interface AcmeConfig {
  domain: string;
  email: string | undefined;
  directory: string;
  caBundle: string | undefined;
  stateDir: string;
  webroot: string;
  certFile: string;
  keyFile: string;
  checkIntervalMs: number;
  retryAfterMs: number;
  metrics: { host: string; port: number };
  nginxPidFile: string | undefined;
  logLevel: string;
}

export function loadAcmeConfig(env: NodeJS.ProcessEnv = process.env): AcmeConfig {
  const blankAsUnset = Object.fromEntries(ACME_CONFIG_KEYS.map((key) => [key, env[key] === '' ? undefined : env[key]]));
  const result = z.object(settings).safeParse(blankAsUnset);
  if (!result.success) throw new ConfigError(result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`));
  const c = result.data;
  const domain = new URL(c.PUBLIC_ORIGIN).hostname;
  // HTTP-01 certifies a DNS name: CAs refuse IP addresses and names without a public suffix.
  if (domain === 'localhost' || /^[\d.]+$|:/.test(domain))
    throw new ConfigError([`PUBLIC_ORIGIN: ACME needs a DNS name, got ${domain} (the local CA serves localhost)`]);
  return {
    domain,
    email: c.ACME_EMAIL,
    directory: c.ACME_DIRECTORY,
    caBundle: c.ACME_CA_BUNDLE,
    stateDir: c.ACME_STATE_DIR,
    webroot: c.ACME_WEBROOT,
    certFile: c.TLS_CERT,
    keyFile: c.TLS_KEY,
    checkIntervalMs: c.ACME_CHECK_INTERVAL,
    retryAfterMs: c.ACME_RETRY_AFTER,
    metrics: { host: c.ACME_METRICS_HOST, port: c.ACME_METRICS_PORT },
    nginxPidFile: c.ACME_NGINX_PIDFILE,
    logLevel: c.LOG_LEVEL,
  };
}
