import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { envFileText, readEnvFile } from '../../testkit/env-file.ts';
import { CliError } from '../lib/log.ts';
import { DEFAULT_ACCESS_RULES, containerServiceEnv } from '../lib/service-env.ts';
import { fromRepo } from '../../testkit/repo.ts';
import type { DockerStack } from './docker-stack.ts';

/** The compose stack's files, merged in this order (paths in each are relative to the repository root). */
export const COMPOSE_FILES = ['docker-compose.yml', 'deploy/compose/monitoring.yml'];
/** Settings the compose file decides for the service (docker-compose.yml, service.environment). */
const COMPOSE_OWNED = ['HOST', 'PORT', 'REDIS_URL', 'REDIS_SENTINELS', 'TRUST_PROXY', 'COOKIE_SECURE'] as const;
/** The Sentinels of the compose profile `ha` (docker-compose.yml). */
const HA_SENTINELS = ['sentinel-1:26379', 'sentinel-2:26379', 'sentinel-3:26379'].join(',');
const DEFAULT_BACKEND_SUBNET = '172.30.97.0/24';
/** Where the renewer installs the pair in its volume, which nginx mounts at the same place (docker-compose.yml). */
const ACME_TLS = { cert: '/etc/authstack/tls/fullchain.pem', key: '/etc/authstack/tls/privkey.pem' };
/** .env's renewer settings that reach the acme container; its paths and ports are the image's and the compose file's. */
const ACME_FROM_DOTENV = ['ACME_EMAIL', 'ACME_DIRECTORY', 'ACME_CHECK_INTERVAL', 'ACME_RETRY_AFTER', 'LOG_LEVEL'];

/**
 * The acme container's inputs, written whatever the profile (compose reads every service's
 * env_file): .run/docker/acme.env, and acme-ca.pem, a copy of ACME_CA_BUNDLE (empty without one).
 */
function writeAcmeInputs(stack: DockerStack, dotenv: Record<string, string>, publicOrigin: string): void {
  const bundle = stack.setting('ACME_CA_BUNDLE', '');
  writeFileSync(join(stack.runDir, 'acme-ca.pem'), bundle ? readFileSync(fromRepo(bundle)) : '');
  const settings = Object.fromEntries(ACME_FROM_DOTENV.filter((key) => dotenv[key]).map((key) => [key, dotenv[key]!]));
  const vars = {
    ...settings,
    PUBLIC_ORIGIN: publicOrigin,
    ...(bundle ? { ACME_CA_BUNDLE: '/etc/authstack/acme-ca.pem' } : {}),
  };
  writeFileSync(
    join(stack.runDir, 'acme.env'),
    envFileText("Written by the stack tooling: the renewer's settings.", vars),
  );
}

/**
 * Writes what compose reads: .run/docker/compose.env (the variables docker-compose.yml
 * interpolates), .run/docker/service.env (the service's settings) and .secrets/ (secrets as
 * files; mode 0444 inside a 0700 directory, because compose bind-mounts them into containers
 * whose users differ, while only the owner can reach them on the host).
 */
export function writeComposeInputs(stack: DockerStack): void {
  const dotenv = readEnvFile(stack.envFile);
  const backendSubnet = stack.setting('BACKEND_SUBNET', DEFAULT_BACKEND_SUBNET);
  const publicOrigin = stack.setting('PUBLIC_ORIGIN', 'https://localhost');
  const { settings, secrets } = containerServiceEnv(stack.envFile, {
    owned: COMPOSE_OWNED,
    ownedBy: 'the compose file',
    decides: { PUBLIC_ORIGIN: publicOrigin, TRUST_PROXY: backendSubnet },
    secretsDir: stack.secretsDir,
    mode: 0o444,
  });
  mkdirSync(stack.runDir, { recursive: true });
  const sentinels = stack.profiles().includes('ha') ? HA_SENTINELS : '';
  const acme = stack.profiles().includes('acme');
  if (acme && (stack.setting('TLS_CERT', '') || stack.setting('TLS_KEY', '')))
    throw new CliError('TLS_MODE=acme obtains the certificate itself: unset TLS_CERT and TLS_KEY');
  writeAcmeInputs(stack, dotenv, publicOrigin);
  const composeVars: Record<string, string> = {
    HTTP_PORT: stack.setting('HTTP_PORT', '80'),
    HTTPS_PORT: stack.setting('HTTPS_PORT', '443'),
    PUBLISH_ADDRESS: stack.setting('PUBLISH_ADDRESS', '0.0.0.0'),
    PUBLIC_ORIGIN: publicOrigin,
    BACKEND_SUBNET: backendSubnet,
    TLS_CERT: acme ? ACME_TLS.cert : stack.setting('TLS_CERT', '/etc/nginx/certs/localhost.crt'),
    TLS_KEY: acme ? ACME_TLS.key : stack.setting('TLS_KEY', '/etc/nginx/certs/localhost.key'),
    TLS_RELOAD_ON_CHANGE: acme ? 'on' : 'off',
    ACME_METRICS_PORT: stack.setting('ACME_METRICS_PORT', '9465'),
    TLS_OCSP: stack.setting('TLS_OCSP', 'off'),
    METRICS_AT_EDGE: secrets.METRICS_TOKEN ? 'on' : 'off',
    // Profile `ha`: the service connects through the Sentinels, the data nodes ask them who leads.
    REDIS_SENTINELS: sentinels,
    REDIS_HA_SENTINELS: sentinels,
    // The host file compose mounts as the service's ACCESS_RULES_FILE (docker-compose.yml).
    ACCESS_RULES_FILE: fromRepo(settings.ACCESS_RULES_FILE ?? DEFAULT_ACCESS_RULES),
    GIT_REVISION: stack.env.GIT_REVISION ?? 'unknown',
    BUILD_CREATED: stack.env.BUILD_CREATED ?? 'unknown',
  };
  const from = `Written by the stack tooling from ${stack.envFile}`;
  writeFileSync(
    join(stack.runDir, 'compose.env'),
    envFileText(`${from}: what docker-compose.yml interpolates.`, composeVars),
  );
  writeFileSync(
    join(stack.runDir, 'service.env'),
    envFileText(`${from}: the service's settings (secrets arrive as files).`, settings),
    { mode: 0o600 },
  );
}
