import { isAbsolute, resolve } from 'node:path';
import { readEnvFile } from '../../testkit/env-file.ts';

/**
 * Where the stack under test is and how to talk to it. Every value comes from, in order:
 *   1. the environment (BASE_URL, SMOKE_*),
 *   2. the stack file a running stack writes about itself (SMOKE_STACK_FILE, default
 *      .run/smoke.env, written by `make up`),
 *   3. a default for a stack on https://localhost.
 * Nothing here knows how the stack runs (native processes or containers).
 */

const repoRoot = resolve(import.meta.dirname, '..', '..');

const fromRepo = (path: string): string => (isAbsolute(path) ? path : resolve(repoRoot, path));

const stackFile = fromRepo(process.env.SMOKE_STACK_FILE ?? '.run/smoke.env');
const stackValues = readEnvFile(stackFile);

export function setting(name: string): string | undefined {
  // Vite sets BASE_URL to '/' (its public base path) when the caller gave none: not a stack.
  const own = name === 'BASE_URL' && process.env.BASE_URL === '/' ? undefined : process.env[name];
  const value = own || stackValues[name];
  return value ? value : undefined;
}

/** The env file with the stack's secrets (METRICS_TOKEN, ADMIN_USERNAME, ADMIN_PASSWORD). */
export const envFile = fromRepo(setting('SMOKE_ENV_FILE') ?? '.env');
/** Everything the stack's env file sets (the one env reader: ops/lib/env-file.ts). */
export const envValues = readEnvFile(envFile);

/** A secret from the environment or the env file; a missing one fails the test that needs it. */
export function secret(name: 'METRICS_TOKEN' | 'ADMIN_USERNAME' | 'ADMIN_PASSWORD'): string {
  const value = process.env[name] || envValues[name];
  if (!value)
    throw new Error(`${name} is not set: export it, or point SMOKE_ENV_FILE at the stack's env file (now ${envFile})`);
  return value;
}

/** The HTTPS origin under test, e.g. https://localhost:8443. */
export const baseUrl = new URL(setting('BASE_URL') ?? envValues.PUBLIC_ORIGIN ?? 'https://localhost');
export const origin = baseUrl.origin;
export const httpsPort = Number(baseUrl.port || 443);

/** The plain-HTTP origin of the same stack (for the redirect tests). */
export function plainHttpUrl(): URL {
  const given = setting('SMOKE_HTTP_URL');
  if (given) return new URL(given);
  // The conventional pairs: 443 -> 80 and 8443 -> 8080. Anything else must be given.
  const suffix = ({ 443: '', 8443: ':8080' } as Record<number, string>)[httpsPort];
  if (suffix === undefined)
    throw new Error(`set SMOKE_HTTP_URL: no default plain-HTTP port for HTTPS port ${httpsPort}`);
  return new URL(`http://${baseUrl.hostname}${suffix}`);
}

/** The address the public name resolves to when DNS does not know it (a test name such as auth.example.test). */
export const connectTo = setting('SMOKE_CONNECT_TO');

/** The CA that issued the stack's certificate; trusted on top of the system roots. */
export const caFile = fromRepo(setting('SMOKE_CA_FILE') ?? 'certs/ca.crt');

/**
 * Where the browser smoke writes its screenshots of the pages (docs/screenshots keeps the ones
 * the README shows). Unset: none are written, so a smoke run never changes the working tree.
 */
const screenshots = setting('SMOKE_SCREENSHOTS_DIR');
export const screenshotsDir = screenshots ? fromRepo(screenshots) : undefined;

/** Shell command printing the service's log (JSON lines); e.g. `docker-compose logs service`. */
export const serviceLogCommand = setting('SMOKE_SERVICE_LOG_CMD');

/**
 * The client IP the service should record, when something rewrites it before nginx (Docker's
 * userland proxy makes it the bridge gateway). Unset: the client socket's own local address.
 */
export const expectedClientIp = setting('SMOKE_EXPECTED_CLIENT_IP');
